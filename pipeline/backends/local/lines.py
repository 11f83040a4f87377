"""The OCR engine's output, the input of every later stage: one text box and its bounds."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OcrLine"]


@dataclass(frozen=True)
class OcrLine:
    """One OCR text box: its text, axis-aligned bounds in pixels and recognition score.

    ``background`` is the colour just around the box (the page, a card, a selected
    tab's fill), when the image was at hand (``shades.with_backgrounds``).
    """

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    background: tuple[int, int, int] | None = None

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1.0)
