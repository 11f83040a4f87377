"""``karaoke-pipeline fake-gemini``: the fake Gemini server in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import logging

from pipeline.testing.fake_gemini import FakeGemini, uvicorn_server
from pipeline.testing.fake_gemini_batch import FakeBatchOptions
from pipeline.testing.fake_gemini_options import FakeGeminiOptions, options_from_args

logger = logging.getLogger("pipeline.testing.fake_gemini")  # the fake's one log


def run_fake_gemini(
    host: str = "127.0.0.1",
    port: int = 8089,
    options: FakeGeminiOptions | None = None,
    batch_options: FakeBatchOptions | None = None,
) -> None:
    """Serve the fake API until interrupted (Ctrl-C)."""
    fake = FakeGemini(options)
    if batch_options is not None:
        fake.batches.configure(batch_options)
    logger.warning(
        "fake Gemini on http://%s:%d (extract=%s, rpm=%s); set KARAOKE_GEMINI_BASE_URL to it",
        host, port, fake.options.extract, fake.options.rpm,
    )  # fmt: skip
    try:
        uvicorn_server(fake, host, port).run()
    finally:
        fake.close()


def fake_gemini_command(args: argparse.Namespace) -> int:
    """Run ``karaoke-pipeline fake-gemini``; returns the exit code."""
    logger.setLevel(logging.INFO)
    batch_options = FakeBatchOptions(delay_s=getattr(args, "batch_delay", 0.0))
    run_fake_gemini(args.host, args.port, options_from_args(args), batch_options)
    return 0
