"""Intake and validation of image bytes.

Two steps, so the cheap one runs on the driver and the costly one in a worker:

- ``read_*`` turns a path, raw bytes, a base64 string or a ``data:`` URL into
  an ``ImagePayload`` (original bytes + sha256), rejecting empty and oversized
  inputs before anything is decoded.
- ``decode_image`` sniffs the real type from the bytes (never the file name or
  the data-URL prefix), refuses decompression bombs before decoding pixels,
  decodes fully (so truncated files are caught) and applies EXIF orientation.

Every problem raises ``ImageRejected`` with one of the per-image error codes;
callers turn it into a failed ``ImageResult``, never a failed batch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from pipeline.capture import PNG_TIME_KEY, png_time
from pipeline.errors import ImageRejected
from pipeline.schema import WireModel

if TYPE_CHECKING:
    from PIL.Image import Image

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
        raise ImageRejected("too_large", f"{source}: {len(data)} bytes, limit is {max_bytes}")
    return ImagePayload(index=index, source=source, data=data, sha256=hashlib.sha256(data).hexdigest())


def read_path(path: str | Path, index: int, *, max_bytes: int) -> ImagePayload:
    """Read one image file; its name becomes the source."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:  # refuse before reading a huge file into memory
            raise ImageRejected("too_large", f"{source}: {size} bytes, limit is {max_bytes}")
        data = path.read_bytes()
    except OSError as exc:
        raise ImageRejected("not_an_image", f"{source}: cannot read: {exc.strerror}") from exc
    return _payload(index, source, data, max_bytes)


def read_uri(uri: str, index: int, *, max_bytes: int) -> ImagePayload:
    """Read one image from a path or any fsspec URI; unreadable ones are rejected, not raised."""
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
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif"):
        return "image/heic" if data[8:12] in (b"heic", b"heix") else "image/heif"
    return None


def decode_image(payload: ImagePayload, *, max_pixels: int) -> DecodedImage:
    """Validate and fully decode one payload into an upright RGB image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    mime_type = sniff_mime_type(payload.data)
    if mime_type is None:
        raise ImageRejected("not_an_image", f"{payload.source}: bytes are not a known image type")
    if mime_type not in SUPPORTED_MIME_TYPES:
        supported = ", ".join(sorted(SUPPORTED_MIME_TYPES))
        raise ImageRejected("unsupported_type", f"{payload.source}: {mime_type} (supported: {supported})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(payload.data))  # reads the header only
            _check_pixels(payload.source, image.width, image.height, max_pixels)
            image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_many_pixels", f"{payload.source}: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("corrupt_image", f"{payload.source}: cannot decode: {exc}") from exc
    upright = ImageOps.exif_transpose(image).convert("RGB")
    stamp = png_time(payload.data) if mime_type == "image/png" else None
    if stamp is not None:  # Pillow does not read tIME; backends date year-less shows by it
        upright.info[PNG_TIME_KEY] = stamp
    return DecodedImage(upright, mime_type, upright.width, upright.height)


def _check_pixels(source: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageRejected("too_many_pixels", f"{source}: {width}x{height} pixels, limit is {max_pixels}")


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the image suffixes (the bytes decide the real type later)."""
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def walk_images(root: Path) -> Iterator[str]:
    """Image files under ``root``, lazily, depth first, each directory sorted (one in memory)."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            if is_image_name(name):
                yield os.path.join(directory, name)


def find_images(paths: list[Path]) -> list[Path]:
    """Expand directories (recursively, sorted) into image files; files pass as given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(Path(name) for name in walk_images(path)))
        else:
            found.append(path)
    return found
