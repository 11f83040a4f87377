"""The ``karaoke-pipeline serve`` subcommand: start the HTTP API and block until Ctrl-C.

Wired into ``pipeline/cli.py`` with ``add_serve_command(commands)`` and, for
``args.command == "serve"``, ``return run_serve(args)``.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

EXIT_OK, EXIT_NO_RAY = 0, 1


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, got {value}")
    return value


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve [--host] [--port]`` to the CLI's subcommands."""
    serve = commands.add_parser("serve", help="start the HTTP API and upload page on Ray Serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")


def run_serve(args: argparse.Namespace) -> int:
    """Start Ray (or join ``RAY_ADDRESS``), deploy the app, print its URL, wait for Ctrl-C."""
    from ray import serve

    from pipeline.parse import ray_runtime
    from pipeline.settings import get_settings
    from serve.app import build_app
    from serve.options import ServeOptions

    options = ServeOptions.from_settings()
    with ray_runtime(get_settings().ray_address) as use_ray:
        if not use_ray:
            print("error: the HTTP API needs Ray, and Ray could not start (see the warning above)")
            return EXIT_NO_RAY
        serve.start(http_options={"host": args.host, "port": args.port})
        try:
            serve.run(build_app(options), name="karaoke", route_prefix="/", blocking=False)
            print(f"karaoke-pipeline API on http://{args.host}:{args.port}/  (docs: /docs; Ctrl-C stops)")
            if options.admin_token is None:
                print("admin endpoints are off: set KARAOKE_ADMIN_TOKEN to enable them")
            _wait_for_stop()
        finally:
            serve.shutdown()
    return EXIT_OK


def _wait_for_stop() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopping ...")
