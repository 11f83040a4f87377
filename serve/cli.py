"""The ``karaoke-pipeline serve`` subcommand: start the HTTP API and block until Ctrl-C.

Wired into ``pipeline/cli.py`` with ``add_serve_command(commands)`` and, for
``args.command == "serve"``, ``return run_serve(args)``.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

EXIT_OK, EXIT_NO_RAY = 0, 1


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535, got {value}")
    return value


def _replicas(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 8:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 8, got {text!r}")
    return int(text)


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve [--host] [--port]`` to the CLI's subcommands."""
    serve = commands.add_parser("serve", help="start the HTTP API and upload page on Ray Serve")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    serve.add_argument(
        "--replicas",
        type=_replicas,
        default=1,
        help="Serve replicas, each with its own fleet sized to share this node (default 1)",
    )
    serve.add_argument(
        "--haproxy",
        action="store_true",
        help="Ray Serve's HAProxy proxy instead of uvicorn: connections that send no complete request "
        f"(no headers, half a request line) are closed after {HAPROXY_CLIENT_TIMEOUT_S} s of silence "
        "(a local Ray on Linux; see docs/slow-senders.md)",
    )


def serving_ray_environment() -> None:
    """A local Ray started to serve runs its workers at normal priority (``RAY_worker_niceness``).

    Ray starts workers at nice 15 so that any other process comes first. For the HTTP API
    the workers (Serve's proxy, the replica) are the service: beside processes at normal
    priority they waited, and /healthz p99 under 20 MB uploads from local clients was 50-53
    ms at nice 15 against 28 ms at nice 0. Set before Ray starts; an existing cluster keeps
    its own setting.
    """
    os.environ.setdefault("RAY_worker_niceness", "0")


HAPROXY_CLIENT_TIMEOUT_S = 30  # longer than a body's idle deadline (15 s): a stalled body still gets JSON 408


def haproxy_environment() -> None:
    """Serve 2.60's HAProxy proxy (``RAY_SERVE_ENABLE_HA_PROXY``, alpha) with a client timeout.

    Uvicorn, Serve's default proxy server, has no header read timeout: a connection that
    sends nothing, or half a request line, stays open forever. HAProxy's ``timeout client``
    (``RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S``, Ray's default 3600 s) closes it with a 408. Set
    before Ray starts, as a default: an existing cluster keeps its own setting.
    """
    os.environ.setdefault("RAY_SERVE_ENABLE_HA_PROXY", "1")
    os.environ.setdefault("RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S", str(HAPROXY_CLIENT_TIMEOUT_S))


def run_serve(args: argparse.Namespace) -> int:
    """Start Ray (or join ``RAY_ADDRESS``), deploy the app, wait until it is ready, wait for Ctrl-C.

    On a loaded machine every step can be slow: each says what it waits for, and a
    step that cannot succeed ends the command with exit 1 and one line saying why.
    """
    from ray import serve

    from pipeline.session import ray_runtime
    from pipeline.settings import get_settings
    from serve.app import build_app
    from serve.options import ServeOptions

    options = ServeOptions.from_settings(replicas=args.replicas)
    serving_ray_environment()
    if args.haproxy:
        haproxy_environment()
    say("starting Ray ...")
    with ray_runtime(get_settings().ray_address) as use_ray:
        if not use_ray:
            print("error: the HTTP API needs Ray, and Ray could not start (see the warning above)")
            return EXIT_NO_RAY
        try:
            failure = start_serve(args.host, args.port)
            if failure is not None:
                print(f"error: {failure}", flush=True)
                return EXIT_NO_RAY
            application = build_app(options)
            say("deploying the API (its replica starts the worker fleet) ...")
            serve.run(application, name="karaoke", route_prefix="/", blocking=False)
            _wait_until_ready(args.host, args.port, args.replicas)
        except Exception as exc:  # Serve reports failures as long tracebacks: one line is enough
            print(f"error: the API did not start: {_first_line(exc)}", flush=True)
            serve.shutdown()
            return EXIT_NO_RAY
        try:
            print(f"karaoke-pipeline API on http://{args.host}:{args.port}/  (docs: /docs; Ctrl-C stops)")
            if options.admin_token is None:
                print("admin endpoints are off: set KARAOKE_ADMIN_TOKEN to enable them")
            _wait_for_stop()
        finally:
            serve.shutdown()
    return EXIT_OK


SERVE_START_ATTEMPTS = 3


def say(message: str) -> None:
    print(message, flush=True)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def start_serve(host: str, port: int, **start_options: Any) -> str | None:
    """``serve.start``, tried again when its proxy dies on a machine too busy to start it in time.

    ``start_options``: more of ``serve.start``'s arguments (``proxy_location``, say).
    Returns None once Serve runs, else the one line that says why it does not.
    """
    from ray import serve

    for attempt in range(1, SERVE_START_ATTEMPTS + 1):
        try:
            serve.start(http_options={"host": host, "port": port}, **start_options)
            return None
        except Exception as exc:
            cause = _first_line(exc)
            serve.shutdown()
            if attempt == SERVE_START_ATTEMPTS:
                return f"Ray Serve did not start after {attempt} tries: {cause}"
            say(f"Ray Serve did not start ({cause}); trying again ({attempt + 1} of {SERVE_START_ATTEMPTS})")
    return None


def _wait_until_ready(host: str, port: int, replicas: int) -> None:
    """Poll ``/readyz`` until each replica has said every worker started, saying what is awaited."""
    import httpx

    probe = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{probe}:{port}/readyz"
    last, ready = "", set()
    while True:
        try:
            response = httpx.get(url, timeout=10)
            body, replica = response.json(), response.headers.get("x-karaoke-replica", "")
        except (httpx.HTTPError, ValueError) as exc:
            body, replica = {"ready": False, "waitingFor": f"the HTTP proxy ({type(exc).__name__})"}, ""
        if body.get("ready"):
            ready.add(replica)
            if len(ready) >= replicas:
                say(f"ready: {body.get('workers')} of {body.get('wanted')} workers started on each replica")
                return
            waiting = f"waiting for {replicas - len(ready)} more replica(s) to be ready"
        else:
            waiting = f"waiting for {body.get('waitingFor') or 'the workers'}"
            if "wanted" in body:
                waiting += f" ({body.get('workers')} of {body['wanted']} workers started)"
        if waiting != last:
            say(waiting)
            last = waiting
        time.sleep(0.5)


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
