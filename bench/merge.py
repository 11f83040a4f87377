"""``python -m bench.merge``: time of the merge (``ScheduleReducer``) against distinct venues.

A seeded synthetic world of ``n`` distinct venues (made-up names such as
"Kelvaro's Anchor Tavern", a tenth with numbers, a third with a street address),
each with one to three weekly nights. Every venue is in one schedule, and a
fifth of them in a second one that spells the name differently (a typo, a
leading 'The', a generic word added or dropped, other case), so ``n`` venues
come in ``1.2 n`` schedules, as in an operator's batch. Printed: the time to
``add`` them all and of ``result()``, wall and CPU (the machine is shared), the
venues and shows that come out, and how much the peak resident memory grew.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from dataclasses import dataclass

from pipeline.reduce import ScheduleReducer
from pipeline.schema import WEEKDAYS, Dj, ParsedSchedule, Show, Venue

SIZES, QUICK_SIZES = (1_000, 10_000, 20_000, 100_000), (1_000, 2_000)
RESULT_NAME = "merge.txt"
_ONSETS = [
    "b",
    "br",
    "c",
    "ch",
    "d",
    "f",
    "g",
    "gr",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "sh",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
_CODAS = ["", "", "n", "r", "l", "s", "x", "ck", "nd", "rt"]
_NOUNS = [
    "anchor",
    "lantern",
    "crescent",
    "nail",
    "barrel",
    "fox",
    "owl",
    "raven",
    "oak",
    "willow",
    "harbor",
    "dock",
    "mill",
    "forge",
    "depot",
    "station",
    "garage",
    "cellar",
    "attic",
    "corner",
    "alley",
    "bridge",
    "creek",
    "hollow",
    "ridge",
    "summit",
    "canyon",
    "meadow",
    "orchard",
    "vine",
    "lotus",
]
_GENERIC = ["Tavern", "Pub", "Bar", "Lounge", "Grill", "Bar & Grill", "Saloon", "Taproom", "Sports Bar", ""]
_STARTS = ["19:00", "20:00", "20:30", "21:00", "21:30", "22:00"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(1, 3))) + rng.choice(
        _CODAS
    )


def venue_name(rng: random.Random) -> str:
    """One made-up venue name."""
    shape = rng.random()
    if shape < 0.4:
        name = f"{_word(rng).title()}'s {rng.choice(_NOUNS).title()} {rng.choice(_GENERIC)}"
    elif shape < 0.7:
        name = f"The {_word(rng).title()} {rng.choice(_NOUNS).title()}"
    else:
        name = f"{_word(rng).title()} {_word(rng).title()} {rng.choice(_GENERIC)}"
    if rng.random() < 0.1:
        name = f"{name} {rng.randint(1, 999)}"
    return " ".join(name.split())


def respelled(name: str, rng: random.Random) -> str:
    """The same venue as another image might write it."""
    change = rng.randrange(4)
    if change == 0 and len(name) > 14:
        at = rng.randrange(1, len(name) - 1)
        return name[:at] + name[at + 1 :]  # a dropped letter
    if change == 1:
        return name[4:] if name.startswith("The ") else f"The {name}"
    if change == 2:
        return f"{name} Pub" if not name.endswith("Pub") else name[:-4]
    return name.upper()


@dataclass(frozen=True)
class World:
    """``n`` distinct venues and the schedules that mention them."""

    schedules: list[tuple[str, ParsedSchedule]]
    venues: int


def make_world(n: int, seed: int = 13) -> World:
    rng = random.Random(f"bench-merge:{seed}:{n}")
    names: dict[str, None] = {}
    while len(names) < n:
        names.setdefault(venue_name(rng), None)
    schedules: list[tuple[str, ParsedSchedule]] = []
    for number, name in enumerate(names):
        nights = [(rng.choice(WEEKDAYS), rng.choice(_STARTS)) for _ in range(rng.randint(1, 3))]
        address = f"{rng.randint(1, 9999)} {_word(rng).title()} St" if rng.random() < 0.33 else None
        dj = f"DJ {_word(rng).title()}" if rng.random() < 0.7 else None
        spellings = [name, respelled(name, rng)] if rng.random() < 0.2 else [name]
        for copy, spelling in enumerate(spellings):
            schedule = ParsedSchedule(
                venues=[Venue(name=spelling, address=address if copy == 0 else None, confidence=0.9)],
                djs=[Dj(name=dj, confidence=0.8)] if dj else [],
                shows=[
                    Show(venue_name=spelling, day=day, start_time=start, dj_name=dj, confidence=0.9)
                    for day, start in nights
                ],
            )
            schedules.append((f"img-{number}-{copy}", schedule))
    rng.shuffle(schedules)
    return World(schedules=schedules, venues=n)


def measure(n: int) -> str:
    """One line: schedules in, add and result times, what came out, peak memory."""
    world = make_world(n)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu_started = time.perf_counter(), time.process_time()
    reducer = ScheduleReducer()
    for source, schedule in world.schedules:
        reducer.add(schedule, source)
    added = time.perf_counter()
    merged = reducer.result()
    done, cpu = time.perf_counter(), time.process_time() - cpu_started
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before  # KiB on Linux
    return (
        f"{n:>8} distinct venues {len(world.schedules):>7} schedules: add {added - started:7.2f} s,"
        f" result {done - added:7.2f} s, total {done - started:7.2f} s (CPU {cpu:6.2f} s);"
        f" out {len(merged.venues)} venues, {len(merged.shows)} shows; peak RSS +{grown_kb / 1024:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.merge", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"small sizes only {QUICK_SIZES}")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=None, help=f"distinct venues (default {SIZES})"
    )
    args = parser.parse_args(argv)
    rows(args.sizes or (QUICK_SIZES if args.quick else SIZES), echo=True)
    return 0


def rows(sizes: tuple[int, ...] | list[int], *, echo: bool = False) -> list[str]:
    """One line per size; ``echo`` prints each as soon as it is measured."""
    lines = []
    for n in sizes:
        lines.append(measure(n))
        if echo:
            print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    sys.exit(main())
