"""The sliding windows of a request budget: which slots are booked, and the earliest free one.

Slots are epoch seconds. A slot may be booked ahead of slots already booked
(interactive work goes before bulk that has not left yet), so the windows keep
every slot sorted, and a new slot is placed only where *every* window of
``window_s`` holding it stays under the limit: any such window lies within
``(slot - window_s, slot + window_s)``, and that is what is counted. Input
tokens are kept the same way, per slot, for the TPM limit.
"""

from __future__ import annotations

import bisect
import math


class SlotWindows:
    """Booked request slots (sorted) and the input tokens booked with them."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.slots: list[float] = []  # ascending; only those that may still bound a later one
        self.tokens: list[tuple[float, int]] = []  # (slot, tokens), ascending

    def trim(self, now: float, horizon_s: float) -> None:
        """Forget what left every window before ``now`` (no later slot can be bound by it)."""
        cut = bisect.bisect_right(self.slots, now - horizon_s)
        del self.slots[:cut]
        cut = bisect.bisect_right(self.tokens, (now - horizon_s, float("inf")))
        del self.tokens[:cut]

    def earliest(
        self, start: float, margin_s: float, limit: int | None, tpm: int | None, charged: int
    ) -> float:
        """The earliest slot from ``start`` with fewer than ``limit`` slots in every window holding
        it and room for ``charged`` more tokens under ``tpm`` (None: not metered)."""
        slot = start
        while True:
            busy = [
                moment
                for moment in (
                    self._request_room(slot, margin_s, limit),
                    self._token_room(slot, margin_s, tpm, charged),
                )
                if moment is not None
            ]
            if not busy:
                return slot
            slot = max(*busy, math.nextafter(slot, math.inf))  # always forward, even by rounding

    def book(self, slot: float, charged: int) -> None:
        bisect.insort(self.slots, slot)
        bisect.insort(self.tokens, (slot, charged))

    def add_tokens(self, at: float, count: int) -> None:
        """Tokens a reply was billed for beyond its estimate, booked when learned."""
        bisect.insort(self.tokens, (at, count))

    def move(self, slot: float, sent: float) -> None:
        """A request booked at ``slot`` really left at ``sent``: it counts from then."""
        position = bisect.bisect_left(self.slots, slot)
        if position < len(self.slots) and self.slots[position] == slot:
            del self.slots[position]
            bisect.insort(self.slots, sent)

    def _request_room(self, slot: float, margin_s: float, limit: int | None) -> float | None:
        """None if a request fits at ``slot``, else the moment the earliest one around it leaves."""
        if limit is None:
            return None
        reach = self.window_s + margin_s
        low = bisect.bisect_right(self.slots, slot - reach)
        high = bisect.bisect_left(self.slots, slot + reach)
        if high - low < limit:
            return None
        return self.slots[low] + reach

    def _token_room(self, slot: float, margin_s: float, tpm: int | None, charged: int) -> float | None:
        """None if ``charged`` tokens fit every window holding ``slot``, else when the oldest leave."""
        if not tpm or charged <= 0:
            return None
        reach = self.window_s + margin_s
        around = [(at, count) for at, count in self.tokens if slot - reach < at < slot + reach]
        used = sum(count for _, count in around)
        if used + min(charged, tpm) <= tpm:
            return None
        return around[0][0] + reach
