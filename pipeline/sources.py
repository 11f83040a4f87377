"""Where a batch job's images come from: lazy listings of local or cloud inputs.

INPUT may be a directory, a glob, a text file of paths or URIs (one a line),
or a cloud prefix (``s3://bucket/screens/``, ``gs://...``) read through
fsspec (install ``s3fs`` or ``gcsfs`` for those). Listings are generators:
a directory of a million screenshots is walked, never loaded whole.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.images import is_image_name, walk_images
from pipeline.local_files import SkippedFiles

_GLOB_CHARS = frozenset("*?[")
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})


def _local(spec: str) -> str | None:
    """The local path a spec names (plain path or file:// URI), or None for other URIs."""
    if spec.startswith("file://"):
        return spec[len("file://") :]
    return None if "://" in spec else spec


def list_inputs(spec: str, skipped: SkippedFiles | None = None) -> Iterator[str]:
    """Every image a batch INPUT names, lazily, in a stable order; ``skipped`` counts the other files."""
    local = _local(spec)
    if local is None:
        return _list_remote(spec)
    if _GLOB_CHARS & set(local):
        return (path for path in glob.iglob(local, recursive=True) if is_image_name(path))
    path = Path(local)
    if path.is_dir():
        return walk_images(path, skipped)
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        return _lines(path)
    if path.is_file():
        return iter([str(path)])
    raise ConfigError(f"no such input: {spec}")


def _lines(list_file: Path) -> Iterator[str]:
    with list_file.open(encoding="utf-8") as lines:
        for line in lines:
            entry = line.strip()
            if entry and not entry.startswith("#"):
                yield entry


def _list_remote(spec: str) -> Iterator[str]:
    """Objects under a cloud prefix (or matching a cloud glob), one directory page at a time."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(spec)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"cannot read {spec}: {exc} (s3:// needs s3fs, gs:// needs gcsfs)") from exc
    protocol = spec.split("://", 1)[0]
    if _GLOB_CHARS & set(path):
        names: Iterator[str] = iter(sorted(fs.glob(path)))
    else:
        names = (os.path.join(root, name) for root, _, files in fs.walk(path) for name in sorted(files))
    return (f"{protocol}://{name}" for name in names if is_image_name(name))
