"""The offline backend: rapidocr reads the text, the rule parser reads the schedule.

One OCR engine is built per backend (so per worker actor) and reused for every
image. rapidocr is imported here, when the backend is built, so importing the
package stays cheap; its PP-OCR models ship inside the wheel (no download).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline.backends.base import LocalOptions
from pipeline.backends.local.lines import OcrLine
from pipeline.backends.local.parser import parse_schedule
from pipeline.backends.local.shades import with_backgrounds
from pipeline.backends.local.tiles import merge_tiles, plan_tiles, upscale_factor
from pipeline.backends.result import Extraction
from pipeline.capture import capture_date
from pipeline.clean import clean_schedule
from pipeline.errors import BackendError, ConfigError
from pipeline.images import SourceImage, pixels_of
from pipeline.schema import ExtractContext, ParsedSchedule, Vendor

if TYPE_CHECKING:
    from PIL.Image import Image

    from pipeline.line_roles.model import RoleModel

INSTALL_HINT = "pip install 'karaoke-pipeline[local]'"
OCR_VERSION = 3
"""Bumped when what OCR returns for an image changes (preprocessing, engine settings)."""


def _ocr_params(options: LocalOptions) -> dict[str, Any]:
    """rapidocr settings: no angle classifier (it flipped clean lines), our thread budget.

    rapidocr ignores a thread count above the machine's CPU count, so it is capped here.
    """
    threads = min(options.ocr_threads, os.cpu_count() or 1)
    return {
        "Global.use_cls": False,
        "Global.text_score": options.min_text_score,
        "Global.max_side_len": options.max_side,
        "Global.log_level": "warning",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }


def _build_engine(options: LocalOptions) -> Any:
    """A rapidocr engine, or ConfigError naming the extra to install."""
    try:
        import onnxruntime  # noqa: F401  (rapidocr only fails on it at the first image)
        from rapidocr import RapidOCR
    except ImportError as exc:
        raise ConfigError(f"the local backend needs rapidocr and onnxruntime: {INSTALL_HINT}") from exc
    return RapidOCR(params=_ocr_params(options))


def _skew(boxes: Sequence[Any]) -> float:
    """Median slope angle (radians) of the boxes' top edges: how far a photo is tilted."""
    angles = [
        math.atan2(float(corners[1][1]) - float(corners[0][1]), float(corners[1][0]) - float(corners[0][0]))
        for corners in boxes
        if float(corners[1][0]) - float(corners[0][0]) > 40  # short boxes give noisy angles
    ]
    return statistics.median(angles) if angles else 0.0


def ocr_lines(output: Any, *, scale: float = 1.0, dy: float = 0.0) -> list[OcrLine]:
    """rapidocr's output (boxes of 4 corner points, texts, scores) as axis-aligned OcrLines.

    A tilted photo is straightened first: corners are turned back by the median
    tilt of the text, so the lines of one row stay one row for the parser. Boxes
    of an upscaled image or a tile are mapped back by ``scale`` and ``dy``.
    """
    texts: Sequence[str] | None = getattr(output, "txts", None)
    boxes = getattr(output, "boxes", None)
    if not texts or boxes is None:
        return []
    scores: Sequence[float] = getattr(output, "scores", None) or [1.0] * len(texts)
    tilt = _skew(boxes)
    cos, sin = math.cos(-tilt), math.sin(-tilt)
    lines: list[OcrLine] = []
    for corners, text, score in zip(boxes, texts, scores, strict=True):
        points = [(float(point[0]), float(point[1])) for point in corners]
        xs = [x * cos - y * sin for x, y in points]
        ys = [x * sin + y * cos for x, y in points]
        lines.append(
            OcrLine(str(text), min(xs) / scale, min(ys) / scale + dy, max(xs) / scale, max(ys) / scale + dy,
                    float(score))
        )  # fmt: skip
    return lines


def _with_context_vendor(schedule: ParsedSchedule, context: ExtractContext | None) -> ParsedSchedule:
    """Credit the request's vendor to the shows when the image names none."""
    if context is None or not context.vendor or schedule.vendors:
        return schedule
    shows = [
        show if show.vendor else show.model_copy(update={"vendor": context.vendor}) for show in schedule.shows
    ]
    vendors = [Vendor(name=context.vendor, description=context.description)] if shows else []
    return schedule.model_copy(update={"shows": shows, "vendors": vendors})


def read_lines(lines: Sequence[OcrLine], today: dt.date, model: RoleModel | None = None) -> ParsedSchedule:
    """What the backend makes of OCR lines: the parser, the venue stage when given a line-role
    model, then cleaning (``eval --leave-one-family-out`` scores its models through this too)."""
    parsed = parse_schedule(lines, today=today)
    if model is not None:
        from pipeline.line_roles.venues import choose_venues

        parsed = choose_venues(lines, parsed, model)
    return clean_schedule(parsed)


class LocalBackend:
    """OCR + rules, offline and free; roughly a second or two per image on one core."""

    kind = "local"

    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self._engine = _build_engine(options)

    def _ocr(self, image: Image, *, scale: float, dy: float) -> list[OcrLine]:
        try:
            output = self._engine(image)
        except Exception as exc:  # rapidocr and onnxruntime raise many unrelated types
            raise BackendError("upstream_error", f"OCR failed: {type(exc).__name__}: {exc}") from exc
        return ocr_lines(output, scale=scale, dy=dy)

    def read_text(self, image: Image | SourceImage) -> list[OcrLine]:
        """OCR boxes in the image's own pixels; a broken image or engine becomes a BackendError.

        Small images (a forwarded flyer) are upscaled first and very tall captures are
        read in overlapping tiles, so text reaches the detector at a height it reads well.
        """
        pixels = pixels_of(image)  # decoded here: OCR needs pixels
        try:
            rgb = pixels if pixels.mode == "RGB" else pixels.convert("RGB")
        except (OSError, ValueError) as exc:
            raise BackendError("corrupt_image", f"cannot read the image's pixels: {exc}") from exc
        factor = upscale_factor(rgb.width, rgb.height)
        if factor > 1.0:
            from PIL import Image as PilImage

            size = (round(rgb.width * factor), round(rgb.height * factor))
            return self._ocr(rgb.resize(size, PilImage.Resampling.LANCZOS), scale=factor, dy=0.0)
        tiles = plan_tiles(rgb.width, rgb.height, self.options.max_side)
        if len(tiles) == 1:
            return self._ocr(rgb, scale=1.0, dy=0.0)
        read = [
            self._ocr(rgb.crop((0, tile.top, rgb.width, tile.bottom)), scale=1.0, dy=tile.top)
            for tile in tiles
        ]
        return merge_tiles(tiles, read)

    def extract(self, image: Image | SourceImage, context: ExtractContext | None = None) -> Extraction:
        """The schedule shown in ``image`` (no usage: OCR is free); no karaoke text gives an empty one.

        Dates without a year resolve against the request's reference day, else the
        image's capture date, else today.
        """
        pixels = pixels_of(image)
        reference = (context.reference_date if context else None) or capture_date(pixels) or dt.date.today()
        model = None
        if self.options.line_roles:
            from pipeline.line_roles.venues import committed_model

            model = committed_model()
        lines = with_backgrounds(pixels, self.read_text(pixels))
        schedule = read_lines(lines, reference, model)
        return Extraction(schedule=_with_context_vendor(schedule, context))
