"""Batch inputs: directories, globs, list files, file:// and fsspec URIs, lazily."""

from __future__ import annotations

import types
from pathlib import Path

import fsspec
import pytest

from pipeline.errors import ConfigError
from pipeline.sources import list_inputs


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    for name in ("b/2.png", "b/1.jpg", "a.webp", "notes.txt", "c/d/3.PNG", "c/readme.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def relative(paths: list[str], root: Path) -> list[str]:
    return [Path(path).relative_to(root).as_posix() for path in paths]


def test_a_directory_is_walked_lazily_in_a_stable_order(tree: Path) -> None:
    listing = list_inputs(str(tree))
    assert isinstance(listing, types.GeneratorType)
    assert relative(list(listing), tree) == ["a.webp", "b/1.jpg", "b/2.png", "c/d/3.PNG"]


def test_a_file_uri_names_the_same_directory(tree: Path) -> None:
    assert list(list_inputs(f"file://{tree}")) == list(list_inputs(str(tree)))


def test_a_glob_matches_images_only(tree: Path) -> None:
    assert relative(sorted(list_inputs(str(tree / "**" / "*"))), tree) == [
        "a.webp",
        "b/1.jpg",
        "b/2.png",
        "c/d/3.PNG",
    ]


def test_a_list_file_gives_its_lines_as_they_are(tree: Path) -> None:
    listing = tree / "inputs.txt"
    listing.write_text("# screenshots\ns3://bucket/one.png\n\n/data/two.jpg\n")
    assert list(list_inputs(str(listing))) == ["s3://bucket/one.png", "/data/two.jpg"]


def test_a_cloud_style_prefix_is_listed_through_fsspec() -> None:
    fs = fsspec.filesystem("memory")
    for name in ("shots/x/1.png", "shots/2.jpg", "shots/skip.json"):
        fs.pipe(f"/bucket/{name}", b"x")
    assert sorted(list_inputs("memory://bucket/shots")) == [
        "memory:///bucket/shots/2.jpg",
        "memory:///bucket/shots/x/1.png",
    ]


def test_a_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such input"):
        list_inputs(str(tmp_path / "nope"))


def test_a_directory_listing_counts_the_files_it_skips_by_type(tmp_path: Path) -> None:
    from pipeline.local_files import SkippedFiles

    for name in ("a.png", "b.heic", "c.heic", "d.pdf"):
        (tmp_path / name).write_bytes(b"x")
    skipped = SkippedFiles()
    assert [Path(path).name for path in list_inputs(str(tmp_path), skipped)] == ["a.png"]
    assert skipped.describe() == "skipped 3: 2 .heic, 1 .pdf"
