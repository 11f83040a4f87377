"""The upload page's exports in headless Chromium, against a scripted API (no Ray, no Serve).

The page's own files are served from ``serve/static``; the two API calls it makes (POST a
job, follow its events) are answered by playwright's routing with a schedule whose names
read as spreadsheet formulas, the way OCR reads them off a hostile screenshot.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.job_files import JobRecord
from pipeline.schema import BatchProgress, ImageResult, ParsedSchedule, ParseResponse, ParseStats, Show
from pipeline.testing.realworld.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser]
STATIC = Path(__file__).resolve().parents[1] / "serve" / "static"
ORIGIN = "http://karaoke.test"
# OWASP CSV injection: a cell starting with one of these (or its full-width form) is a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
HOSTILE_NAMES = [
    '=HYPERLINK("http://x","y") Tavern',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1 Pub",
    "\r=1+1 Bar",
    '  =HYPERLINK("http://x") Lounge',
    "\uff1d1+1 Fullwidth",
    'The "Quoted", Inn\nsecond line',
]


def _job_with(shows: list[Show]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    image = ImageResult(image_index=0, source="=evil.png", success=True, status="ok")
    result = ParseResponse(
        success=True,
        data=ParsedSchedule(shows=shows),
        results=[image],
        stats=ParseStats(
            total_images=1,
            successful_images=1,
            failed_images=0,
            max_concurrent_workers=1,
            total_processing_time=10,
            average_processing_time=10,
            speedup=1,
        ),
    )
    progress = BatchProgress(total_images=1, processed_images=1, job_id="j1", status="done")
    record = JobRecord(job_id="j1", status="done", created_at=now, progress=progress, result=result)
    return record.to_wire()


@pytest.fixture
def page() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing in CI")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield browser.new_page(accept_downloads=True)
        finally:
            browser.close()


def _route_page_and_api(page: Any, job: dict[str, Any]) -> None:
    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(path=str(STATIC / "index.html"))
        elif path.startswith("/static/"):
            route.fulfill(path=str(STATIC / path.removeprefix("/static/")))
        elif path == "/api/parser/jobs":
            urls = {"events": "/api/parser/jobs/j1/events"}
            route.fulfill(status=202, json={"jobId": "j1", "urls": urls})
        elif path == "/api/parser/jobs/j1/events":
            message = json.dumps({"type": "done", "job": job})
            body = f"event: done\ndata: {message}\n\n"
            route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)
        else:
            route.fulfill(status=404, body="not found")

    page.route(f"{ORIGIN}/**", answer)


def test_csv_download_neutralises_formula_cells(page: Any, tmp_path: Path) -> None:
    shows = [
        Show(venue_name=name, time="9PM-2AM", dj_name=f"=DJ{i}", description="-", sources=[f"=img{i}.png"])
        for i, name in enumerate(HOSTILE_NAMES)
    ]
    _route_page_and_api(page, _job_with(shows))
    page.goto(ORIGIN + "/")
    picture = tmp_path / "a.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    page.set_input_files("#files", [str(picture)])
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=30_000)
    with page.expect_download() as download:
        page.click("#download-csv")
    text = Path(download.value.path()).read_bytes().decode()  # keeps a \r inside a cell
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][0] == "venueName"
    live = [value for row in rows[1:] for value in row if value.lstrip(" ").startswith(FORMULA_STARTS)]
    assert live == [], f"{len(live)} live formula cells"
    assert len(rows) == 1 + len(shows), "a quoted newline or carriage return stays inside its cell"
    venues = [row[0] for row in rows[1:]]
    neutral = [f"'{name}" if name.lstrip(" ").startswith(FORMULA_STARTS) else name for name in HOSTILE_NAMES]
    assert venues == neutral, "the text itself is kept, after the one quote mark"
    assert {row[6] for row in rows[1:]} == {f"'=DJ{i}" for i in range(len(shows))}
