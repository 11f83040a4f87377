"""Frames a near-copy was given, for the similar-image cache: borders, status bars, and the strips
they cover.

A copy that travelled was often cropped a little and then framed: a plain
border around it, a phone's status bar across the top. ``pipeline.similar``
compares two pictures block by block; these helpers say where a picture ends
(``frame_edges``: a border with a sharp inner edge that only one of the two has
ends it, as the image's edge does), which edge strips of the block map a frame
covers (``trim_frame``), and, on a small copy, the box inside a frame the query
seems to carry (``frame_box``, a hint for the candidate search).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from PIL.Image import Image

    Array = NDArray[Any]  # float32 pictures; bool masks

FRAME_SHARE = 0.08  # of each side, at most, may be a frame (status bar, border) over cropped content
FRAME_AGREE = 0.35  # a strip whose blocks differ this often is a frame
FRAME_PLAIN = 0.85  # a strip this plain in one image (a border, a status bar) is a frame
FLAT_CONTRAST = 2.0  # grey levels per px: a block this smooth shows nothing
TEXT_CONTRAST = 10.0  # grey levels per px, in both images: a block that shows text
FRAME_TOLERANCE = 12  # grey levels: a frame's pixels are this close to its colour
FRAME_FILL = 0.95  # of a border's strip, on a 256 px copy (the candidate search's hint)
BORDER_FILL = 0.99  # of a border's strip at reading resolution: a line of small print is not border
SHARP_EDGE = 0.9  # of a line just inside a border that differs from it: where the picture begins
SAME_EDGE = 3.0  # px: two borders ending this close together are the page's own margin
SHARP_REACH = 4  # px inside a border's last plain line where the picture must begin
BAR_FILL = 0.7  # of a status bar's rows (its clock and icons take the rest)
BAR_SHARE = (0.015, 0.08)  # of the height: a phone's status bar


def frame_box(small: Image) -> tuple[int, int, int, int]:
    """The box inside a frame a (small) image seems to carry: a plain border of one colour on all
    four sides, then a status bar (a band of one colour across the top). Only a hint for finding
    candidates: confirmation compares the whole image."""
    import numpy as np

    pixels = np.asarray(small, dtype=np.float32)
    left, top, right, bottom = border_box(pixels, FRAME_FILL)
    end = min(top + 1, bottom - 1)  # the first row may blend the border into the bar
    bar = float(np.median(pixels[end, left:right]))
    limit = top + round(BAR_SHARE[1] * (bottom - top))
    while end < limit and _share(pixels[end, left:right], bar) >= BAR_FILL:
        end += 1
    below = float(np.median(pixels[end, left:right])) if end < bottom else bar
    if end - top >= BAR_SHARE[0] * (bottom - top) and end < limit and abs(below - bar) > FRAME_TOLERANCE:
        top = end
    return left, top, right, bottom


def _share(line: Array, colour: float) -> float:
    import numpy as np

    return float((np.abs(line - colour) <= FRAME_TOLERANCE).mean())


def border_box(pixels: Array, fill: float, sharp: bool = False) -> tuple[int, int, int, int]:
    """The box inside a plain border of one colour on all four sides (the whole picture when there
    is none): lines at least ``fill`` of that colour, at most ``FRAME_SHARE`` of the longer side deep.
    ``sharp``: a side counts only where the picture starts along a line (a crop's edge, a card's
    edge), not where the first glyph of a plain margin does: a margin moves with the text in it."""
    import numpy as np

    height, width = pixels.shape
    sides = (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1])
    colour = float(np.median(np.concatenate(sides)))
    if min(_share(line, colour) for line in sides) < fill:
        return 0, 0, width, height
    reach = round(FRAME_SHARE * max(height, width))
    top, left, bottom, right = 0, 0, height, width
    while top < reach and _share(pixels[top, left:right], colour) >= fill:
        top += 1
    while bottom > height - reach and _share(pixels[bottom - 1, left:right], colour) >= fill:
        bottom -= 1
    while left < reach and _share(pixels[top:bottom, left], colour) >= fill:
        left += 1
    while right > width - reach and _share(pixels[top:bottom, right - 1], colour) >= fill:
        right -= 1
    if sharp:  # the picture starts within a few px of the last plain line (compression blurs it),
        # on two lines in a row nearly all unlike the border: a crop's or a card's edge, never text

        def starts(lines: Array) -> bool:
            return len(lines) == 2 and all(_share(line, colour) <= 1 - SHARP_EDGE for line in lines)

        near = range(SHARP_REACH)
        top = next((top + i for i in near if starts(pixels[top + i : top + i + 2, left:right])), 0)
        bottom = next(
            (bottom - i for i in near if starts(pixels[max(0, bottom - i - 2) : bottom - i, left:right])),
            height,
        )
        left = next((left + i for i in near if starts(pixels[top:bottom, left + i : left + i + 2].T)), 0)
        right = next(
            (right - i for i in near if starts(pixels[top:bottom, max(0, right - i - 2) : right - i].T)),
            width,
        )
    return left, top, right, bottom


Box = tuple[float, float, float, float]  # left, top, right, bottom


def picture_ends(ref: Array, other: Array, mapping: Box) -> tuple[Box, Box]:
    """Where each picture ends (left, top, right, bottom, in its own px): at a plain border with a
    sharp inner edge, a frame a copy was given, which ends it as the image's edge does (what lies
    within a blur of it is not compared); else at its edge. A side where both have their border in
    the same place (``mapping`` takes ``ref``'s px to ``other``'s: scale x, scale y, dx, dy) is
    the page's own margin, compared as it is: both pictures show it, and what is written along it."""
    sx, sy, dx, dy = mapping
    boxes = border_box(ref, BORDER_FILL, sharp=True), border_box(other, BORDER_FILL, sharp=True)
    in_other = (boxes[0][0] * sx + dx, boxes[0][1] * sy + dy, boxes[0][2] * sx + dx, boxes[0][3] * sy + dy)
    same = [abs(mine - theirs) <= SAME_EDGE for mine, theirs in zip(boxes[1], in_other, strict=True)]

    def ends(box: tuple[int, int, int, int], pixels: Array) -> Box:
        whole = (0, 0, pixels.shape[1], pixels.shape[0])
        left, top, right, bottom = (
            float(full if alike else edge) for edge, full, alike in zip(box, whole, same, strict=True)
        )
        return left, top, right, bottom

    return ends(boxes[0], ref), ends(boxes[1], other)


def trim_frame(bad: Array, valid: Array, contrast: Array) -> Array:
    """Drop edge rows and columns of blocks where a frame stands over what a crop took off.

    A status bar or a border replaces a strip along one edge: there one image
    is plain (nearly every block flat) or the whole strip differs. A changed
    venue, day or time differs in a few blocks of a strip where both images
    show text, so it is never trimmed, even in a strip otherwise plain in both;
    nor is anything beyond ``FRAME_SHARE``.
    """
    bad = bad & valid
    plain_ref = (contrast[0] < FLAT_CONTRAST) & valid
    plain_other = (contrast[1] < FLAT_CONTRAST) & valid
    changed_text = bad & (contrast.min(axis=0) > TEXT_CONTRAST)  # text in both, and it differs
    keep = valid.copy()
    rows, cols = keep.shape
    for axis, size in ((0, rows), (1, cols)):
        reach = min(size // 4, int(max(rows, cols) * FRAME_SHARE))  # a border's width is a share of the width
        for order in (range(size), range(size - 1, -1, -1)):
            inside, taken, margin = 0, 0, False  # strips of the overlap trimmed: framed, all; a blank one
            for index in order:
                line = (index, slice(None)) if axis == 0 else (slice(None), index)
                count = int(valid[line].sum())
                plain = sorted((int(plain_ref[line].sum()), int(plain_other[line].sum())))
                throughout = bad[line].sum() >= FRAME_AGREE * count
                text = bool(changed_text[line].any())  # a few glyphs that changed, in a plain strip
                # plain in both and alike: a margin, nothing to compare (plain in both but unlike,
                # as a dark bar over a light page, is frame)
                blank = plain[0] >= FRAME_PLAIN * count and not throughout and not text
                # a strip that differs throughout is a frame only at the overlap's edge or next to
                # more frame: past a blank margin it is a line of text that changed (and shifted)
                differs = throughout and not margin
                framed = differs or (plain[1] >= FRAME_PLAIN * count and not text)
                if taken >= reach:  # strips outside the overlap (what a crop or a shift left) are free
                    break
                taken += bool(count)
                if count and not framed:
                    if inside:  # the strip where the frame ends and the picture begins
                        keep[line] = False
                    break
                inside += bool(count) and not blank
                margin = margin or (bool(count) and blank)
                keep[line] = False
    return keep
