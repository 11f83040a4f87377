"""Intake and validation of image bytes.

Two steps, so the cheap one runs on the driver and the costly one in a worker:

- ``read_*`` turns a path, raw bytes, a base64 string or a ``data:`` URL into
  an ``ImagePayload`` (original bytes + sha256), rejecting empty and oversized
  inputs before anything is decoded.
- ``open_image`` sniffs the real type from the bytes (never the file name or
  the data-URL prefix), reads size and EXIF orientation from the header,
  refuses decompression bombs before any pixel is decoded, and checks the file
  is whole without decoding it where the format allows (PNG: every chunk's CRC
  up to IEND; JPEG: the whole entropy stream decoded at 1/8 scale, about a
  third of a full decode; WEBP: decoded fully). The result keeps the original
  bytes, so a backend can send them as they came, and decodes the upright RGB
  pixels only when asked (``SourceImage.pixels``). ``decode_image`` is both at once.

Every problem raises ``ImageRejected`` with one of the per-image error codes;
callers turn it into a failed ``ImageResult``, never a failed batch.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import os
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from pipeline.capture import PNG_TIME_KEY, png_time
from pipeline.errors import ImageRejected
from pipeline.local_files import READ_DEADLINE_S, SkippedFiles, read_regular_file, size_words
from pipeline.schema import WireModel

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageFile import ImageFile

SUPPORTED_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+/-]*)(?:;[\w=.-]+)*;base64,", re.IGNORECASE)


class ImagePayload(WireModel):
    """The original bytes of one input, with its identity."""

    index: int = Field(ge=0)
    source: str
    data: bytes
    sha256: str


class ImageRef(WireModel):
    """An image named by a path or URI, read by the worker that processes it.

    The batch driver hands these out so image bytes never pass through it.
    """

    index: int = Field(ge=0)
    source: str = Field(description="a local path, file:// URI, or any fsspec URI (s3://, gs://, ...)")
    sha256: None = None  # known only once the worker has read the bytes


@dataclass(frozen=True)
class DecodedImage:
    """A fully decoded, upright RGB image and the type sniffed from its bytes."""

    image: Image
    mime_type: str
    width: int
    height: int


def _payload(index: int, source: str, data: bytes, max_bytes: int) -> ImagePayload:
    if not data:
        raise ImageRejected("empty", f"{source}: no bytes")
    if len(data) > max_bytes:
        raise ImageRejected(
            "too_large", f"{source}: {size_words(len(data))}, limit is {size_words(max_bytes)}"
        )
    return ImagePayload(index=index, source=source, data=data, sha256=hashlib.sha256(data).hexdigest())


def read_path(
    path: str | Path, index: int, *, max_bytes: int, deadline_s: float = READ_DEADLINE_S
) -> ImagePayload:
    """Read one regular image file under a deadline (a FIFO is ``not_a_file``); its name is the source."""
    source = str(path)
    return _payload(
        index, source, read_regular_file(source, max_bytes=max_bytes, deadline_s=deadline_s), max_bytes
    )


def read_uri(uri: str, index: int, *, max_bytes: int) -> ImagePayload:
    """Read one image from a path or any fsspec URI; unreadable ones are rejected, not raised."""
    if uri.startswith("file://") or "://" not in uri:  # local: regular files only, as read_path
        data = read_regular_file(uri.removeprefix("file://"), max_bytes=max_bytes)
        return _payload(index, uri, data, max_bytes)
    import fsspec

    try:
        with fsspec.open(uri, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except (OSError, ValueError, ImportError) as exc:  # missing file, bad URI, protocol not installed
        raise ImageRejected("not_an_image", f"{uri}: cannot read: {exc}") from exc
    return _payload(index, uri, data, max_bytes)


def read_bytes(data: bytes, index: int, *, max_bytes: int, source: str | None = None) -> ImagePayload:
    """Wrap raw bytes; the source defaults to ``image-N``."""
    return _payload(index, source or f"image-{index}", data, max_bytes)


def read_base64(text: str, index: int, *, max_bytes: int, source: str | None = None) -> ImagePayload:
    """Decode a base64 string or a ``data:`` URL (its declared type is ignored)."""
    source = source or f"image-{index}"
    body = _DATA_URL.sub("", text.strip(), count=1)
    if not body:
        raise ImageRejected("empty", f"{source}: no data")
    if len(body) * 3 // 4 > max_bytes + 3:  # refuse before decoding a huge string
        raise ImageRejected("too_large", f"{source}: about {len(body) * 3 // 4} bytes, limit is {max_bytes}")
    try:
        data = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageRejected("not_an_image", f"{source}: not valid base64") from exc
    return _payload(index, source, data, max_bytes)


def sniff_mime_type(data: bytes) -> str | None:
    """The image type named by the leading bytes, or None when none matches."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:2] == b"BM":
        return "image/bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data[4:8] == b"ftyp":  # ISO base media: the major brand names the image type
        return _FTYP_BRANDS.get(data[8:12])
    return None


_FTYP_BRANDS = {
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"), "image/heic"),
    **dict.fromkeys((b"mif1", b"msf1", b"heif"), "image/heif"),
    **dict.fromkeys((b"avif", b"avis"), "image/avif"),
}


@dataclass(eq=False)
class SourceImage:
    """One validated image as it came in: original bytes, sniffed type, header facts, lazy pixels.

    ``width`` and ``height`` are the stored size (before any EXIF rotation);
    ``orientation`` is the EXIF orientation, 1 when the file has none, 0 when it
    cannot be known without decoding (a PNG with metadata after its pixels).
    ``info`` is the header's metadata (PNG text chunks, ...). Nothing is decoded
    until ``pixels`` is read.
    """

    data: bytes
    mime_type: str
    width: int
    height: int
    orientation: int
    source: str
    info: dict[str | tuple[int, int], Any] = field(default_factory=dict)

    @property
    def upright(self) -> bool:
        """Whether the stored pixels are already the right way up (no EXIF rotation or flip)."""
        return self.orientation == 1

    @functools.cached_property
    def pixels(self) -> Image:
        """The decoded, upright RGB image (decoded on first use, then kept)."""
        return _decode_pixels(self.data, self.source)


def open_image(payload: ImagePayload, *, max_pixels: int) -> SourceImage:
    """Validate one payload from its header and a cheap integrity check; pixels stay undecoded."""
    from PIL import Image, UnidentifiedImageError

    mime_type = _supported_mime_type(payload)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(payload.data))  # reads the header only
            _check_pixels(payload.source, image.width, image.height, max_pixels)
            source = SourceImage(
                data=payload.data,
                mime_type=mime_type,
                width=image.width,
                height=image.height,
                orientation=_orientation(image, mime_type, _check_whole(payload.data, mime_type)),
                source=payload.source,
                info=dict(image.info),
            )
            if mime_type == "image/webp":  # no cheaper whole-file check: decode now, keep the pixels
                _ = source.pixels
    except Image.DecompressionBombError as exc:  # over Pillow's own cap: say ours, not Pillow's
        raise ImageRejected(
            "too_many_pixels", f"{payload.source}: {_bomb_size(exc)}, {_pixel_limit(max_pixels)}"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
        raise ImageRejected("corrupt_image", f"{payload.source}: cannot decode: {exc}") from exc
    return source


def decode_image(payload: ImagePayload, *, max_pixels: int) -> DecodedImage:
    """Validate and fully decode one payload into an upright RGB image."""
    source = open_image(payload, max_pixels=max_pixels)
    upright = source.pixels
    return DecodedImage(upright, source.mime_type, upright.width, upright.height)


def _supported_mime_type(payload: ImagePayload) -> str:
    mime_type = sniff_mime_type(payload.data)
    if mime_type is None:
        raise ImageRejected("not_an_image", f"{payload.source}: bytes are not a known image type")
    if mime_type not in SUPPORTED_MIME_TYPES:
        supported = ", ".join(sorted(SUPPORTED_MIME_TYPES))
        raise ImageRejected("unsupported_type", f"{payload.source}: {mime_type} (supported: {supported})")
    return mime_type


def _decode_pixels(data: bytes, source: str) -> Image:
    """Decode fully (a truncated or corrupt file fails here) and apply the EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("corrupt_image", f"{source}: cannot decode: {exc}") from exc
    upright = ImageOps.exif_transpose(image).convert("RGB")
    stamp = png_time(data) if data.startswith(b"\x89PNG") else None
    if stamp is not None:  # Pillow does not read tIME; backends date year-less shows by it
        upright.info[PNG_TIME_KEY] = stamp
    return upright


_PNG_LATE_METADATA = frozenset({b"eXIf", b"iTXt", b"zTXt", b"tEXt"})


def _check_whole(data: bytes, mime_type: str) -> bool:
    """Raise unless the file is whole; returns whether a PNG has metadata after its pixels."""
    if mime_type == "image/png":
        return _walk_png(data)
    if mime_type == "image/jpeg":  # decode every block at 1/8 scale: the entropy stream must be whole
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    return False


def _walk_png(data: bytes) -> bool:
    """Check every chunk's CRC up to IEND (as PIL's ``verify``); True when metadata follows IDAT."""
    position, seen_pixels, late_metadata = 8, False, False
    while True:
        if position + 12 > len(data):
            raise OSError("truncated PNG file")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > len(data):
            raise OSError("truncated PNG file")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[position + 4 : end - 4]) != crc:
            raise SyntaxError(f"broken PNG file (bad CRC in {kind!r} chunk)")
        if kind == b"IEND":
            return late_metadata
        seen_pixels = seen_pixels or kind == b"IDAT"
        late_metadata = late_metadata or (seen_pixels and kind in _PNG_LATE_METADATA)
        position = end


def _orientation(image: ImageFile, mime_type: str, late_metadata: bool) -> int:
    """EXIF orientation from the header (as ``ImageOps.exif_transpose`` reads it), 0 when unknowable.

    PIL reads a PNG's EXIF only on load when it is not in the header, and XMP can
    carry an orientation too: a PNG with either after its pixels, or XMP without
    EXIF, is left for the decoder to judge.
    """
    if mime_type == "image/png" and (
        late_metadata or ("exif" not in image.info and "XML:com.adobe.xmp" in image.info)
    ):
        return 0
    if mime_type == "image/png" and "exif" not in image.info:
        return 1
    return int(image.getexif().get(0x0112, 1))


def pixels_of(image: Image | SourceImage) -> Image:
    """The decoded pixels of either kind of image a backend is handed."""
    return image.pixels if isinstance(image, SourceImage) else image


def _check_pixels(source: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        size = f"{width}x{height} pixels ({_megapixels(width * height)})"
        raise ImageRejected("too_many_pixels", f"{source}: {size}, {_pixel_limit(max_pixels)}")


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.1f}".removesuffix(".0") + " MP"


def _pixel_limit(max_pixels: int) -> str:
    return f"limit is {_megapixels(max_pixels)} (KARAOKE_MAX_IMAGE_PIXELS)"


def _bomb_size(exc: Exception) -> str:
    """The size Pillow's bomb error names (``Image size (N pixels) exceeds ...``), in megapixels."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return _megapixels(int(found.group(1))) if found else "too many pixels"


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the image suffixes (the bytes decide the real type later)."""
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def walk_images(root: Path, skipped: SkippedFiles | None = None) -> Iterator[str]:
    """Image files under ``root``, lazily, depth first, each directory sorted (one in memory).

    ``skipped`` counts the other files by type (``.heic``, ``.pdf``, ...).
    """
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            if is_image_name(name):
                yield os.path.join(directory, name)
            elif skipped is not None:
                skipped.add(name)


def find_images(paths: list[Path], skipped: SkippedFiles | None = None) -> list[Path]:
    """Expand directories (recursively, sorted) into image files; files pass as given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(Path(name) for name in walk_images(path, skipped)))
        else:
            found.append(path)
    return found
