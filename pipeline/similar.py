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
   (one scale and a shift, from the rows' and columns' edge profiles), brought
   to the lower of their two resolutions, and compared block by block over
   the area both show. A near-copy differs a little everywhere (compression,
   resampling); another venue, day or time differs a lot in a few blocks. One
   block over ``BLOCK_LIMIT`` rejects the candidate.

Pillow, numpy and imagehash are imported inside the functions, so importing
this module (as the cache does) stays cheap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
SCALE_RANGE = 0.12  # crop/pad of up to ~5% a side changes the apparent scale by this much at most
BLOCK = 8  # px, at comparison resolution: about one glyph
CONTRAST_FLOOR = 8.0  # grey levels per px: flat blocks are judged by their difference alone
BLOCK_LIMIT = 0.55  # the worst block's difference, relative to its contrast
FRAME_SHARE = 0.08  # of each side, at most, may be a frame (status bar, border) over cropped content
FRAME_AGREE = 0.35  # a strip whose blocks differ this often is a frame
FRAME_PLAIN = 0.85  # a strip this plain in one image (a border, a status bar) is a frame
FLAT_CONTRAST = 2.0  # grey levels per px: a block this smooth shows nothing


@dataclass(frozen=True)
class Fingerprint:
    """What the cache keeps of an image to recognise its near-copies."""

    phash: int
    centre: int  # phash of the middle 80%: steadier when a frame or a crop changes the edges
    width: int
    height: int
    thumb: bytes  # grayscale JPEG of the image at reading resolution


@dataclass(frozen=True)
class Alignment:
    """How the first image maps onto the second: ``x2 = scale_x * x1 + dx`` (thumbnail px), same for y."""

    scale_x: float
    scale_y: float
    dx: float
    dy: float
    score: float


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

    phash = int(str(imagehash.phash(gray)), 16)
    w, h = gray.size
    centre = int(str(imagehash.phash(gray.crop((w // 10, h // 10, w - w // 10, h - h // 10)))), 16)
    scale = min(1.0, THUMB_WIDTH / gray.width, (THUMB_PIXELS / (gray.width * gray.height)) ** 0.5)
    thumb = gray
    if scale < 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        thumb = gray.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=THUMB_QUALITY)
    return Fingerprint(phash, centre, gray.width, gray.height, buffer.getvalue())


def hash_distance(first: int, second: int) -> int:
    return (first ^ second).bit_count()


def find_distance(first: Fingerprint, phash: int, centre: int) -> int:
    """How far a stored fingerprint's hashes are from ``first``'s: the nearer of whole and middle."""
    return min(hash_distance(first.phash, phash), hash_distance(first.centre, centre))


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


def _edges(image: Array) -> Array:
    """Gradient magnitude: what text and lines look like whatever the colours and the frame."""
    import numpy as np

    gx = np.abs(np.diff(image, axis=1, append=image[:, -1:]))
    gy = np.abs(np.diff(image, axis=0, append=image[-1:, :]))
    return (gx + gy).astype(np.float32)


def _shrunk(image: Array, factor: float) -> Array:
    import numpy as np
    from PIL import Image

    h, w = image.shape
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX), dtype=np.float32)


def _spectrum(image: Array, shape: tuple[int, int]) -> Array:
    from scipy import fft

    spectrum: Array = fft.rfft2(image - image.mean(), s=shape, workers=1)
    return spectrum


def _peak(f: Array, g: Array, shape: tuple[int, int]) -> tuple[float, float, float]:
    """Phase correlation of two spectra: the shift moving the second image onto the first, and its height."""
    import numpy as np
    from scipy import fft

    cross = f * np.conj(g)
    cross /= np.abs(cross) + 1e-6
    surface = fft.irfft2(cross, s=shape, workers=1)
    y, x = np.unravel_index(int(np.argmax(surface)), surface.shape)
    h, w = shape
    return float(x - w if x > w // 2 else x), float(y - h if y > h // 2 else y), float(surface[y, x])


def _phase_peak(first: Array, second: Array) -> tuple[float, float, float]:
    """The shift (dx, dy) that best moves ``second`` onto ``first``, and the peak's height."""
    from scipy import fft

    shape = (
        fft.next_fast_len(max(first.shape[0], second.shape[0]), real=True),
        fft.next_fast_len(max(first.shape[1], second.shape[1]), real=True),
    )
    return _peak(_spectrum(first, shape), _spectrum(second, shape), shape)


ALIGN_WIDTH = 192  # px: the coarse search's resolution
ALIGN_STEPS = 25  # scales tried in the coarse search
MIN_PEAK = 0.12  # the coarse search's correlation peak: near-copies reach 0.3, other pictures 0.05


def align(a: Array, b: Array) -> Alignment | None:
    """The scale and shift mapping ``a`` onto ``b``: a coarse search over scales by phase
    correlation of edge maps, then a least-squares fit of patch displacements."""
    import numpy as np
    from scipy import fft

    ka = min(1.0, ALIGN_WIDTH / a.shape[1])
    small_a = _shrunk(_edges(a), ka)
    edges_b = _edges(b)
    nominal = b.shape[1] / a.shape[1]
    factors = np.linspace(1 - SCALE_RANGE, 1 + SCALE_RANGE, ALIGN_STEPS)
    tallest = max(small_a.shape[0], round(b.shape[0] * ka / (nominal * factors[0])) + 1)
    widest = max(small_a.shape[1], round(b.shape[1] * ka / (nominal * factors[0])) + 1)
    shape = (fft.next_fast_len(tallest, real=True), fft.next_fast_len(widest, real=True))
    spectrum_a = _spectrum(small_a, shape)
    best: tuple[float, float, float, float] | None = None
    for factor in factors:
        scale = float(nominal * factor)  # x_b = scale * x_a + t
        small_b = _shrunk(edges_b, ka / scale)  # b in a's low-resolution frame
        dx, dy, peak = _peak(_spectrum(small_b, shape), spectrum_a, shape)
        if best is None or peak > best[0]:
            best = (peak, scale, dx, dy)
    assert best is not None
    if best[0] < MIN_PEAK:  # nothing lines up: another picture altogether
        return None
    _, scale, dx, dy = best
    found = Alignment(scale, scale, dx / ka * scale, dy / ka * scale, best[0])
    for _ in range(FIT_ROUNDS):
        found = _fit_patches(a, b, found)
    return found


PATCH = 96  # px at thumbnail resolution
PATCH_REACH = 16  # px a patch may have moved after the coarse search
FIT_ROUNDS = 2


def _fit_patches(a: Array, b: Array, coarse: Alignment) -> Alignment:
    """Refine ``coarse`` by where a grid of textured patches of ``a`` lands in ``b``."""
    import numpy as np
    from PIL import Image

    h, w = a.shape
    warped = np.asarray(
        Image.fromarray(b).transform(
            (w, h),
            Image.Transform.AFFINE,
            (coarse.scale_x, 0, coarse.dx, 0, coarse.scale_y, coarse.dy),
            Image.Resampling.BILINEAR,
        ),
        dtype=np.float32,
    )
    edges_a, edges_w = _edges(a), _edges(warped)
    points: list[tuple[float, float, float, float]] = []
    for cy in np.linspace(PATCH, h - PATCH, max(2, min(6, h // PATCH))):
        for cx in np.linspace(PATCH, w - PATCH, max(2, min(6, w // PATCH))):
            y0, x0 = int(cy - PATCH / 2), int(cx - PATCH / 2)
            if y0 < 0 or x0 < 0:
                continue
            pa = edges_a[y0 : y0 + PATCH, x0 : x0 + PATCH]
            pw = edges_w[y0 : y0 + PATCH, x0 : x0 + PATCH]
            if pa.shape != (PATCH, PATCH) or pa.std() < 4 or pw.std() < 4:
                continue
            dx, dy, peak = _phase_peak(pw, pa)  # a's patch sits at +(dx, dy) in the warped b
            if peak > 0.1 and abs(dx) <= PATCH_REACH and abs(dy) <= PATCH_REACH:
                points.append((cx, cy, dx, dy))
    if len(points) < 3:
        return coarse
    found = np.array(points, dtype=np.float64)
    sx, tx = _line_fit(found[:, 0], found[:, 2])
    sy, ty = _line_fit(found[:, 1], found[:, 3])
    # warped(x) = b(scale * x + d), and a(x) = warped(x + u(x)) with u(x) = sx * x + tx
    return Alignment(
        coarse.scale_x * (1 + sx),
        coarse.scale_y * (1 + sy),
        coarse.dx + coarse.scale_x * tx,
        coarse.dy + coarse.scale_y * ty,
        coarse.score,
    )


def _line_fit(x: Array, u: Array) -> tuple[float, float]:
    """u = slope * x + offset, fitted again without the points furthest off."""
    import numpy as np

    slope, offset = np.polyfit(x, u, 1) if np.ptp(x) > 0 else (0.0, float(np.median(u)))
    residual = np.abs(u - (slope * x + offset))
    keep = residual <= max(1.0, float(np.median(residual)) * 3)
    if keep.sum() >= 3 and np.ptp(x[keep]) > 0:
        slope, offset = np.polyfit(x[keep], u[keep], 1)
    return float(slope), float(offset)


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
    overlap = min(float(valid.mean()), float(valid.sum()) * sx * sy / (other.width * other.height))
    if overlap < MIN_OVERLAP:
        return None
    best: Array | None = None
    plain = other_b.transform((w, h), Image.Transform.AFFINE, (sx, 0.0, dx, 0.0, sy, dy))
    for nx, ny in NUDGES:
        data = (sx, 0.0, dx + nx, 0.0, sy, dy + ny)
        warped = other_b.transform((w, h), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
        diff = _blocks(np.abs(ref_b - np.asarray(warped, dtype=np.float32)))
        best = diff if best is None else np.minimum(best, diff)
    assert best is not None
    whole = _blocks(valid.astype(np.float32)) > 0.999
    contrast = np.stack([_blocks(_edges(ref_b)), _blocks(_edges(np.asarray(plain, dtype=np.float32)))])
    return np.where(whole, best, 0.0), contrast, overlap, whole


def _trim_frame(scores: Array, valid: Array, contrast: Array) -> Array:
    """Drop edge rows and columns of blocks where a frame stands over what a crop took off.

    A status bar or a border replaces a strip along one edge: there one image
    is plain (nearly every block flat) or the whole strip differs. A changed
    venue, day or time differs in a few blocks of a strip where both images
    show text, so it is never trimmed; nor is anything beyond ``FRAME_SHARE``.
    """
    bad = (scores > BLOCK_LIMIT) & valid
    plain_ref = (contrast[0] < FLAT_CONTRAST) & valid
    plain_other = (contrast[1] < FLAT_CONTRAST) & valid
    keep = valid.copy()
    rows, cols = keep.shape
    for axis, size in ((0, rows), (1, cols)):
        reach = int(size * FRAME_SHARE)
        for order in (range(size), range(size - 1, -1, -1)):
            inside = 0  # strips of the overlap trimmed so far
            for taken, index in enumerate(order):
                line = (index, slice(None)) if axis == 0 else (slice(None), index)
                count = int(valid[line].sum())
                plain = sorted((int(plain_ref[line].sum()), int(plain_other[line].sum())))
                blank = plain[0] >= FRAME_PLAIN * count  # plain in both: nothing to compare, no frame
                framed = bad[line].sum() >= FRAME_AGREE * count or plain[1] >= FRAME_PLAIN * count
                if taken >= reach:
                    break
                if count and not framed:
                    if inside:  # the strip where the frame ends and the picture begins
                        keep[line] = False
                    break
                inside += bool(count) and not blank
                keep[line] = False
    return keep


def _compare(a: Array, b: Array, al: Alignment) -> float:
    """The worst block's difference relative to its contrast; ``inf`` when they hardly overlap."""

    found = block_differences(a, b, al)
    if found is None:
        return float("inf")
    diff, contrast, _, valid = found
    scores = diff / (contrast[0] + CONTRAST_FLOOR)
    keep = _trim_frame(scores, valid, contrast)
    return float(scores[keep].max()) if keep.any() else float("inf")
