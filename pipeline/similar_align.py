"""Aligning two thumbnails of the similar-image cache: one scale and a shift, then refined by patches.

A near-copy was resized, cropped a little or framed; before two thumbnails can
be compared block by block (``pipeline.similar``), the second has to be mapped
onto the first. Phase correlation of their edge maps over a range of scales
finds the coarse scale and shift; where a grid of patches lands refines it (a
least-squares fit per axis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[Any]

SCALE_RANGE = 0.12  # crop/pad of up to ~5% a side changes the apparent scale by this much at most


@dataclass(frozen=True)
class Alignment:
    """How the first image maps onto the second: ``x2 = scale_x * x1 + dx`` (thumbnail px), same for y."""

    scale_x: float
    scale_y: float
    dx: float
    dy: float
    score: float


def edges(image: Array) -> Array:
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


Peak = tuple[float, float, float, float]  # a coarse search's peak height, scale, dx and dy
ALIGN_WIDTH = 192  # px: the coarse search's resolution
ALIGN_STEPS = 25  # scales tried in the coarse search
FAR_END_PX = 1.5  # px at the coarse resolution: how far one step of the fine scale search moves the far end
MIN_PEAK = 0.12  # the coarse search's correlation peak: near-copies reach 0.3, other pictures 0.05


def align(a: Array, b: Array) -> Alignment | None:
    """The scale and shift mapping ``a`` onto ``b``: a coarse search over scales by phase
    correlation of edge maps, then a least-squares fit of patch displacements."""
    import numpy as np
    from scipy import fft

    ka = min(1.0, ALIGN_WIDTH / a.shape[1])
    small_a = _shrunk(edges(a), ka)
    edges_b = edges(b)
    nominal = b.shape[1] / a.shape[1]
    factors = np.linspace(1 - SCALE_RANGE, 1 + SCALE_RANGE, ALIGN_STEPS)
    tallest = max(small_a.shape[0], round(b.shape[0] * ka / (nominal * factors[0])) + 1)
    widest = max(small_a.shape[1], round(b.shape[1] * ka / (nominal * factors[0])) + 1)
    shape = (fft.next_fast_len(tallest, real=True), fft.next_fast_len(widest, real=True))
    spectrum_a = _spectrum(small_a, shape)

    def search(factors: Array, found: Peak | None = None) -> Peak:
        for factor in factors:
            scale = float(nominal * factor)  # x_b = scale * x_a + t
            small_b = _shrunk(edges_b, ka / scale)  # b in a's low-resolution frame
            dx, dy, peak = _peak(_spectrum(small_b, shape), spectrum_a, shape)
            if found is None or peak > found[0]:
                found = (peak, scale, dx, dy)
        assert found is not None
        return found

    best = search(factors)
    # on a tall page one step of scale moves its far end by many pixels and blurs the peak away:
    # search again around the best in steps that move the far end by about a pixel
    step, fine = float(factors[1] - factors[0]), FAR_END_PX / max(small_a.shape)
    if fine < step / 2:
        around = best[1] / nominal
        best = search(np.arange(max(factors[0], around - step), min(factors[-1], around + step), fine), best)
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
    edges_a, edges_w = edges(a), edges(warped)
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
    sx, tx, ty = _scale_fit(found)
    sy = sx
    # warped(x) = b(scale * x + d), and a(x) = warped(x + u(x)) with u(x) = sx * x + tx
    return Alignment(
        coarse.scale_x * (1 + sx),
        coarse.scale_y * (1 + sy),
        coarse.dx + coarse.scale_x * tx,
        coarse.dy + coarse.scale_y * ty,
        coarse.score,
    )


def _scale_fit(points: Array) -> tuple[float, float, float]:
    """One slope for both axes (resizing, cropping and framing all keep the aspect ratio) and an offset
    per axis: ``(dx, dy) = slope * (x, y) + (tx, ty)``, fitted again without the points furthest off."""
    import numpy as np

    x, y, u, v = points.T
    keep = np.ones(len(points), dtype=bool)
    solution = np.zeros(3)
    for _ in range(2):
        n = int(keep.sum())
        design = np.zeros((2 * n, 3))
        design[:n, 0], design[:n, 1] = x[keep], 1.0
        design[n:, 0], design[n:, 2] = y[keep], 1.0
        solution = np.linalg.lstsq(design, np.concatenate([u[keep], v[keep]]), rcond=None)[0]
        slope, tx, ty = solution
        residual = np.hypot(u - (slope * x + tx), v - (slope * y + ty))
        keep = residual <= max(1.0, float(np.median(residual)) * 3)
        if keep.sum() < 3:
            break
    return float(solution[0]), float(solution[1]), float(solution[2])
