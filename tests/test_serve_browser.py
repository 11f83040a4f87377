"""The upload page in headless Chromium: real screenshots, live progress, the table, a bad file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_harness import Served, served  # noqa: F401 - the fixture is used by name

from pipeline.testing.realworld.browser import CHROMIUM, CHROMIUM_ARGS  # one browser set-up for both

pytestmark = [pytest.mark.ray, pytest.mark.serve, pytest.mark.browser, pytest.mark.ocr]
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "examples" / "screenshots"


@pytest.fixture(scope="module")
def page(served: Served) -> Iterator[Any]:  # noqa: F811 - pytest injects the imported fixture
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # .ci/run installs it: a skip there would hide a broken install
            pytest.fail("Debian's chromium is missing in CI")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(served.url("ocr") + "/")
            yield page
        finally:
            browser.close()


def test_upload_page_parses_real_screenshots_and_shows_a_bad_file(page: Any, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-screenshot.png"
    bad.write_text("this is a text file with a .png name")
    names = ["001-lines.png", "002-table.png", "004-social.png"]
    page.set_input_files("#files", [str(SCREENSHOTS / name) for name in names] + [str(bad)])
    assert "001-lines.png" in page.inner_text("#chosen")
    page.select_option("#workers", "3")
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=600_000)  # local OCR: slow on a busy machine
    assert page.get_attribute("#progress-bar", "value") == "100"
    assert "processed 4 / 4" in page.inner_text("#progress-text")
    assert "failed 1" in page.inner_text("#progress-text")
    venues = page.eval_on_selector_all(
        "#shows tbody tr td:first-child", "cells => cells.map(c => c.textContent)"
    )
    truth = json.loads((SCREENSHOTS / "truth.json").read_text())
    expected = {show["venueName"] for name in names for show in truth[name]["shows"]}
    assert len(set(venues) & expected) >= len(expected) // 2, f"found {venues}"
    images = page.inner_text("#images")
    assert "this file is not an image (not_an_image)" in images, "failures are said in plain words"
    assert images.count("ok: ") == 3
    assert page.eval_on_selector_all("#images img", "imgs => imgs.length") == 4, "a thumbnail of each upload"
    page.wait_for_function(  # the three real screenshots show; the text file cannot
        "[...document.querySelectorAll('#images img')].filter(i => i.complete && i.naturalWidth > 0).length"
        " === 3",
        timeout=10_000,
    )
    summary = page.inner_text("#summary")
    assert "3 of 4 images read" in summary and "measured speedup" in summary and "ms per image" in summary
    assert page.eval_on_selector_all("#venues tbody tr", "rows => rows.length") >= 1
    with page.expect_download() as csv_download:
        page.click("#download-csv")
    csv_text = Path(csv_download.value.path()).read_text()
    assert csv_text.splitlines()[0].startswith("venueName,day,date,startTime")
    assert any(venue in csv_text for venue in venues)
    with page.expect_download() as json_download:
        page.click("#download-json")
    assert len(json.loads(Path(json_download.value.path()).read_text())["shows"]) == len(venues)
    # The README's picture is refreshed only on request, so test runs leave the tree clean.
    shot = (
        ROOT / "docs" / "upload-page.png" if os.environ.get("KARAOKE_UPDATE_DOCS") else tmp_path / "page.png"
    )
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_upload_page_reports_a_refused_admin_upload(page: Any) -> None:
    page.check("input[name=mode][value=admin]")
    page.fill("#token", "wrong-token")
    page.set_input_files("#files", [str(SCREENSHOTS / "003-flyer.png")])
    page.click("#submit")
    page.wait_for_function("document.getElementById('message').textContent.length > 0", timeout=10_000)
    assert page.inner_text("#message").startswith("401")
