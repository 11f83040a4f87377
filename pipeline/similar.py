"""Perceptual fingerprints for the similar-image cache: find a near-copy, then confirm it pixel by pixel.

Two steps, because one flyer template serves many venues:

1. **Find.** 64-bit perceptual hashes (``imagehash.phash``) of the whole image
   and of its middle 80% name candidates: earlier images whose hash is within
   ``FIND_DISTANCE`` bits, the nearest first.
   Resizing, re-compression and a small crop or status bar move few bits; but
   two flyers of one template differ in small print only, so they are
   candidates too.
2. **Confirm.** Each fingerprint keeps a grayscale thumbnail at reading
   resolution (up to ``THUMB_WIDTH`` px wide). The two thumbnails are aligned
   (one scale and a shift, by phase correlation of their edge maps), brought
   to the lower of their two resolutions, and compared block by block over
   the area both show (a plain border with a sharp inner edge that only one of
   them has ends its picture, as the image's edge does). A near-copy differs a
   little everywhere (compression, resampling); another venue, day or time
   differs a lot in a few blocks. One
   block over ``BLOCK_LIMIT`` rejects the candidate, and so does a worst block
   that stands alone (two renders of one template differ only where the text does).

Pillow, numpy and imagehash are imported inside the functions, so importing
this module (as the cache does) stays cheap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.similar_align import Alignment, align, edges
from pipeline.similar_frames import TEXT_CONTRAST, frame_box, picture_ends, trim_frame

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from PIL.Image import Image

    Array = NDArray[Any]  # float32 pictures and profiles; bool masks

MIN_SIDE = 64  # px: smaller images are cached by their exact bytes only
BLANK_STDDEV = 2.0  # grey levels: an image this uniform counts as blank
FIND_DISTANCE = 26  # phash bits (of 64) a candidate may differ by
THUMB_WIDTH = 1024  # px; text stays legible at this width on desktop screenshots
THUMB_PIXELS = 1_500_000  # very tall pages are shrunk further
THUMB_QUALITY = 90
MIN_OVERLAP = 0.6  # of each image's area, once aligned
BLOCK = 8  # px, at comparison resolution: about one glyph
CONTRAST_FLOOR = 8.0  # grey levels per px: flat blocks are judged by their difference alone
BLOCK_LIMIT = 0.55  # the worst block's difference, relative to its contrast
LONE_FLOOR = 0.2  # a worst block over this and LONE_RATIO times the 90th percentile of the
LONE_RATIO = 6.0  # text blocks stands alone: one glyph changed in an otherwise identical render
LOCAL_REACH = 2  # blocks around the worst one that belong to the same change
LOCAL_SITES = 2  # clusters of LOCAL_REACH blocks that a local change may take
LOCAL_RATIO = 2.0  # a worst block over LONE_FLOOR and this times any beyond those sites: a local change


@dataclass(frozen=True)
class Fingerprint:
    """What the cache keeps of an image to recognise its near-copies."""

    phash: int
    centre: int  # phash of the middle 80%: steadier when a frame or a crop changes the edges
    width: int
    height: int
    thumb: bytes  # grayscale JPEG of the image at reading resolution
    framed: tuple[int, int] | None = None  # whole and middle phash without a frame found on it (not stored)


def fingerprint(data: bytes) -> Fingerprint | None:
    """The fingerprint of encoded image bytes; None when they do not decode or show too little
    to confirm a near-copy by (smaller than ``MIN_SIDE``, or nearly blank)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as opened:
            gray = ImageOps.exif_transpose(opened).convert("L")
    except Exception:  # not an image, or a broken one: intake reports it, the cache just skips it
        return None
    if min(gray.size) < MIN_SIDE or _blank(gray):
        return None
    return fingerprint_of(gray)


def _blank(gray: Image) -> bool:
    """Whether an image is nearly one colour: nothing to confirm a near-copy by."""
    from PIL import ImageStat

    small = gray.resize((min(gray.width, 256), min(gray.height, 256)))
    return bool(ImageStat.Stat(small).stddev[0] < BLANK_STDDEV)


def fingerprint_of(gray: Image) -> Fingerprint:
    """The fingerprint of a decoded grayscale image."""
    import imagehash
    from PIL import Image

    def hashes(image: Image.Image) -> tuple[int, int]:
        w, h = image.size
        middle = image.crop((w // 10, h // 10, w - w // 10, h - h // 10))
        return int(str(imagehash.phash(image)), 16), int(str(imagehash.phash(middle)), 16)

    phash, centre = hashes(gray)
    small = gray.resize((min(gray.width, 256), min(gray.height, 256)), Image.Resampling.BOX)
    box = frame_box(small)
    framed = hashes(small.crop(box)) if box != (0, 0, small.width, small.height) else None
    scale = min(1.0, THUMB_WIDTH / gray.width, (THUMB_PIXELS / (gray.width * gray.height)) ** 0.5)
    thumb = gray
    if scale < 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        thumb = gray.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=THUMB_QUALITY)
    return Fingerprint(phash, centre, gray.width, gray.height, buffer.getvalue(), framed)


def hash_distance(first: int, second: int) -> int:
    return (first ^ second).bit_count()


def find_distance(first: Fingerprint, phash: int, centre: int) -> int:
    """How far a stored fingerprint's hashes are from ``first``'s: the nearest of whole and middle,
    with and without the frame ``first`` seems to carry."""
    found = min(hash_distance(first.phash, phash), hash_distance(first.centre, centre))
    if first.framed is not None:
        found = min(found, hash_distance(first.framed[0], phash), hash_distance(first.framed[1], centre))
    return found


def same_picture(first: Fingerprint, second: Fingerprint) -> bool:
    """Whether ``second`` is a near-copy of ``first`` (confirmed block by block)."""
    return worst_block(first, second) <= BLOCK_LIMIT


def worst_block(first: Fingerprint, second: Fingerprint) -> float:
    """The largest block difference once aligned; ``inf`` when they cannot be aligned."""
    a, b = _pixels(first.thumb), _pixels(second.thumb)
    alignment = align(a, b)
    if alignment is None:
        return float("inf")
    return _compare(a, b, alignment)


def _pixels(thumb: bytes) -> Array:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(thumb)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32)


def _frames(a: Array, b: Array, al: Alignment) -> tuple[Array, Image, tuple[float, float, float, float]]:
    """The coarser image, the finer one shrunk to about its scale, and the residual map between them."""
    import numpy as np
    from PIL import Image

    if al.scale_x * al.scale_y >= 1.0:  # b is the finer: bring it to a's frame
        ref, other = a, b
        sx, sy, dx, dy = al.scale_x, al.scale_y, al.dx, al.dy
    else:
        ref, other = b, a
        sx, sy = 1 / al.scale_x, 1 / al.scale_y
        dx, dy = -al.dx * sx, -al.dy * sy
    image = Image.fromarray(other.astype(np.uint8))
    size = (max(1, round(image.width / sx)), max(1, round(image.height / sy)))
    if size != image.size:
        fx, fy = size[0] / image.width, size[1] / image.height
        image = image.resize(size, Image.Resampling.LANCZOS)
        sx, sy, dx, dy = sx * fx, sy * fy, dx * fx, dy * fy
    return ref, image, (sx, sy, dx, dy)


NUDGES = ((0.0, 0.0), (-0.5, 0.0), (0.5, 0.0), (0.0, -0.5), (0.0, 0.5))  # px: what alignment may miss


def _blocks(values: Array) -> Array:
    h, w = values.shape[0] // BLOCK * BLOCK, values.shape[1] // BLOCK * BLOCK
    means: Array = values[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))
    return means


def block_differences(a: Array, b: Array, al: Alignment) -> tuple[Array, Array, float, Array] | None:
    """Per block of the coarser frame: the difference (the least over half-pixel nudges) and the
    contrast; plus the overlap (the smaller share of either image both show). None: too little overlap."""
    import numpy as np
    from PIL import Image, ImageFilter

    ref, other, (sx, sy, dx, dy) = _frames(a, b, al)
    h, w = ref.shape
    blur = ImageFilter.GaussianBlur(1.0)
    ref_b = np.asarray(Image.fromarray(ref.astype(np.uint8)).filter(blur), dtype=np.float32)
    other_b = other.filter(blur)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    px, py = xs * sx + dx, ys * sy + dy
    edge = 3.0
    valid = (px >= edge) & (px <= other.width - 1 - edge) & (py >= edge) & (py <= other.height - 1 - edge)
    inner = (xs >= edge) & (xs <= w - 1 - edge) & (ys >= edge) & (ys <= h - 1 - edge)
    overlap = min(float(valid.mean()), float(valid.sum()) * sx * sy / (other.width * other.height))
    if overlap < MIN_OVERLAP:
        return None
    (rl, rt, rr, rb), (ol, ot, or_, ob) = picture_ends(
        ref, np.asarray(other, dtype=np.float32), (sx, sy, dx, dy)
    )
    valid &= (px >= ol + edge) & (px <= or_ - 1 - edge) & (py >= ot + edge) & (py <= ob - 1 - edge)
    inner &= (xs >= rl + edge) & (xs <= rr - 1 - edge) & (ys >= rt + edge) & (ys <= rb - 1 - edge)
    best: Array | None = None
    plain = other_b.transform((w, h), Image.Transform.AFFINE, (sx, 0.0, dx, 0.0, sy, dy))
    for nx, ny in NUDGES:
        data = (sx, 0.0, dx + nx, 0.0, sy, dy + ny)
        warped = other_b.transform((w, h), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
        diff = _blocks(np.abs(ref_b - np.asarray(warped, dtype=np.float32)))
        best = diff if best is None else np.minimum(best, diff)
    assert best is not None
    # within a blur's reach of either picture's edge, one sees past it (a frame) and the other does not
    whole = _blocks((valid & inner).astype(np.float32)) > 0.999
    contrast = np.stack([_blocks(edges(ref_b)), _blocks(edges(np.asarray(plain, dtype=np.float32)))])
    return np.where(whole, best, 0.0), contrast, overlap, whole


def _compare(a: Array, b: Array, al: Alignment) -> float:
    """The worst block's difference relative to its contrast; ``inf`` when they hardly overlap or
    when the worst block stands alone (the rest of the text matches far better than a copy would)."""
    import numpy as np

    found = block_differences(a, b, al)
    if found is None:
        return float("inf")
    diff, contrast, _, valid = found
    scores = diff / (contrast[0] + CONTRAST_FLOOR)
    keep = trim_frame(scores > BLOCK_LIMIT, valid, contrast)
    if not keep.any():
        return float("inf")
    worst, text = float(scores[keep].max()), keep & (contrast.min(axis=0) > TEXT_CONTRAST)
    typical = float(np.percentile(scores[text if text.sum() >= 20 else keep], 90))
    if worst > max(LONE_FLOOR, LONE_RATIO * typical):
        return float("inf")
    # Resampling and compression leave their noise all over the picture: the worst block has peers
    # far from it. A changed time is a local cluster or two (a grid repeats it in a second cell),
    # whatever the noise around them.
    kept = np.where(keep, scores, 0.0)
    for _ in range(LOCAL_SITES):
        row, col = np.unravel_index(int(np.argmax(kept)), kept.shape)
        top, left = max(0, row - LOCAL_REACH), max(0, col - LOCAL_REACH)
        kept[top : row + LOCAL_REACH + 1, left : col + LOCAL_REACH + 1] = 0.0
    return float("inf") if worst > max(LONE_FLOOR, LOCAL_RATIO * float(kept.max())) else worst
