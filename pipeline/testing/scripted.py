"""A backend that does what each image tells it: for testing supervision.

The instruction rides in the PNG text chunk ``script`` of a real image file
(see ``make_scripted_png``), so tests go through real intake and decoding.
"""

from __future__ import annotations

import io
import os
import time
from typing import TYPE_CHECKING

from pipeline.backends.base import ScriptedOptions
from pipeline.backends.result import Extraction
from pipeline.errors import BackendError
from pipeline.schema import ExtractContext, ParsedSchedule, Show, Venue

if TYPE_CHECKING:
    from PIL.Image import Image

    from pipeline.images import SourceImage


class ScriptedBackend:
    kind = "scripted"

    def __init__(self, options: ScriptedOptions) -> None:
        self.options = options

    def extract(self, image: Image | SourceImage, context: ExtractContext | None = None) -> Extraction:
        script = str(image.info.get("script", "ok"))
        time.sleep(self.options.delay_s)
        action, _, argument = script.partition(":")
        if action == "sleep":
            time.sleep(float(argument))
        elif action == "wait":  # hold the image until a test creates the file (at most 10 min)
            deadline = time.monotonic() + 600
            while not os.path.exists(argument) and time.monotonic() < deadline:
                time.sleep(0.05)
        elif action == "crash":
            os._exit(17)  # the whole worker process dies, as with a segfault or OOM kill
        elif action == "bug":
            raise ZeroDivisionError("a scripted bug")  # an exception no backend means to raise
        elif action == "fail":
            raise BackendError(argument or "upstream_error", f"scripted failure {argument}")  # type: ignore[arg-type]
        venue = str(image.info.get("venue", "Scripted Bar"))
        if self.options.log_file is not None:
            with open(self.options.log_file, "a", encoding="utf-8") as log:  # one short append per call
                log.write(venue + "\n")
        show = Show(venue_name=venue, day="monday", start_time="21:00", time="9PM", confidence=0.9)
        return Extraction(schedule=ParsedSchedule(shows=[show], venues=[Venue(name=venue, confidence=0.9)]))


def make_scripted_png(
    script: str = "ok", venue: str = "Scripted Bar", size: tuple[int, int] = (32, 24)
) -> bytes:
    """A small real PNG whose text chunks carry the script and venue name."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("script", script)
    info.add_text("venue", venue)
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
