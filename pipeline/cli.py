"""The ``karaoke-pipeline`` command line.

Exit codes: 0 when at least one image succeeded, 1 when none did, 2 for
usage errors (bad arguments, missing paths, unknown backend).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from pipeline.backends.base import OPTIONS_BY_KIND
from pipeline.console import BatchProgressLog, shows_table
from pipeline.errors import ConfigError
from pipeline.evaluate import add_eval_command, run_eval
from pipeline.evaluate_lofo import add_lofo_option, run_lofo
from pipeline.local_files import SkippedFiles
from pipeline.parse_files import parse_paths
from pipeline.runner import MAX_WORKERS, MIN_WORKERS
from pipeline.schema import ParseResponse, Usage
from pipeline.settings import describe_settings_error, get_settings
from pipeline.testing.fake_gemini_options import add_fake_gemini_arguments
from serve.cli import add_serve_command

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_ALL_FAILED, EXIT_USAGE = 0, 1, 2


def _int_from(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` up to ``high`` (no upper bound when None)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            allowed = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value}")
        return value

    return convert


_worker_count = _int_from(MIN_WORKERS, MAX_WORKERS)
_positive_int = _int_from(1)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


TIMEOUT_HELP = "per-image deadline in seconds (default: 30 for gemini, 180 for local OCR)"
SIMILAR_HELP = "answer only exact copies from the cache, not near-copies (also KARAOKE_SIMILAR_CACHE=0)"
REFERENCE_HELP = "read dates without a year against this day (default: each image's capture date, else today)"


def _duration(text: str) -> float:
    from pipeline.batch_api_command import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="karaoke-pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parse = commands.add_parser("parse", help="parse screenshots into merged show listings")
    parse.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files or directories")
    parse.add_argument(
        "--backend",
        choices=sorted(OPTIONS_BY_KIND),
        help="default: $KARAOKE_BACKEND, else gemini with a key set, else local",
    )
    parse.add_argument("--workers", type=_worker_count, default=3, help="worker actors, 1-5 (default 3)")
    parse.add_argument("--sequential", action="store_true", help="one image at a time (same as --workers 1)")
    parse.add_argument("--timeout", type=_positive_float, help=TIMEOUT_HELP)
    parse.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    parse.add_argument("--no-progress", action="store_true", help="no live progress bar on stderr")
    parse.add_argument("--no-cache", action="store_true", help="neither read nor write the result cache")
    parse.add_argument("--no-similar-cache", action="store_true", help=SIMILAR_HELP)
    parse.add_argument("--reference-date", type=_iso_date, metavar="YYYY-MM-DD", help=REFERENCE_HELP)
    batch = commands.add_parser("batch", help="stream a large set of screenshots into JSONL shards")
    batch.add_argument("input", metavar="INPUT", help="a directory, glob, list file, or s3:// / gs:// prefix")
    batch.add_argument("--output", required=True, metavar="DIR", help="local directory or cloud prefix")
    batch.add_argument("--backend", choices=sorted(OPTIONS_BY_KIND), help="as for parse")
    batch.add_argument("--workers", type=_positive_int, default=5, help="worker actors (default 5)")
    batch.add_argument("--resume", action="store_true", help="skip inputs that already succeeded in DIR")
    batch.add_argument("--retry-failed", action="store_true", help="with --resume: retry failed inputs")
    batch.add_argument(
        "--max-in-flight", type=_positive_int, help="listed, unfinished items (default 4x workers)"
    )
    batch.add_argument("--timeout", type=_positive_float, help=TIMEOUT_HELP)
    batch.add_argument(
        "--via", choices=["online", "gemini-batch"], default="online",
        help="online (default): the workers; gemini-batch: Gemini's Batch API at half price, resumable",
    )  # fmt: skip
    batch.add_argument(
        "--deadline", type=_duration, metavar="DURATION",
        help="with --via gemini-batch: answers by then (e.g. 6h), counted from the first run over "
        "OUTPUT; what the Batch API has not answered by 80%% of it goes online, until then",
    )  # fmt: skip
    batch.add_argument("--no-progress", action="store_true", help="no live progress display")
    batch.add_argument("--no-cache", action="store_true", help="neither read nor write the result cache")
    batch.add_argument("--no-similar-cache", action="store_true", help=SIMILAR_HELP)
    cache = commands.add_parser("cache", help="the result cache of paid backends")
    cache.add_argument("action", choices=["stats", "clear"], help="stats: what it holds; clear: empty it")
    quota = commands.add_parser("quota", help="the Gemini limits learned from 429s, per model and key")
    quota.add_argument(
        "action", nargs="?", choices=["show", "forget"], default="show",
        help="show (default): what was learned, from which 429; forget: start unmetered again",
    )  # fmt: skip
    up = commands.add_parser("up", help="keep a local Ray and a warm fleet for the next commands")
    up.add_argument("--backend", choices=sorted(OPTIONS_BY_KIND), help="as for parse")
    up.add_argument(
        "--workers", type=_worker_count, default=3, help="warm workers, 1-5 (default 3, as parse)"
    )
    commands.add_parser("down", help="stop what `up` started")
    commands.add_parser("status", help="what `up` runs, if anything")
    batch.add_argument("--reference-date", type=_iso_date, metavar="YYYY-MM-DD", help=REFERENCE_HELP)
    add_eval_command(commands)
    add_lofo_option(commands.choices["eval"])
    add_serve_command(commands)
    fake = commands.add_parser("fake-gemini", help="a local stand-in of the Gemini REST API")
    add_fake_gemini_arguments(fake)
    for command in commands.choices.values():
        command.add_argument(
            "-v", "--verbose", action="store_true", help="log at INFO, with Ray's messages and worker logs"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if getattr(args, "verbose", False) else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    err = Console(stderr=True)
    try:
        if args.command == "fake-gemini":
            from pipeline.testing.fake_gemini_cli import fake_gemini_command

            return fake_gemini_command(args)
        if args.command == "eval":
            lofo = args.leave_one_family_out or args.leave_one_theme_out
            return run_lofo(args) if lofo else run_eval(args)
        if args.command == "serve":
            from serve.cli import run_serve

            return run_serve(args)
        if args.command == "batch":
            return _batch_command(args, err)
        if args.command == "cache":
            return _cache_command(args)
        if args.command == "quota":
            return _quota_command(args)
        if args.command in ("up", "down", "status"):
            return _runtime_command(args, err)
        return _parse_command(args, err)
    except ConfigError as exc:  # one line, however long: an operator greps logs for it
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        return EXIT_USAGE
    except ValidationError as exc:  # a bad KARAOKE_* variable
        err.print(f"[red]error:[/red] bad setting: {describe_settings_error(exc)}")
        return EXIT_USAGE


def _parse_command(args: argparse.Namespace, err: Console) -> int:
    skipped = SkippedFiles()
    response = parse_paths(
        args.paths,
        backend=args.backend,
        workers=1 if args.sequential else args.workers,
        timeout_s=args.timeout,
        use_cache=not args.no_cache,
        similar_cache=not args.no_similar_cache,
        progress=err if not args.no_progress else None,
        reference_date=args.reference_date,
        skipped=skipped,
    )
    _write_output(response, args.out)
    if args.out is not None:  # stdout is free for people: show what was found
        Console().print(shows_table(response))
    _print_summary(err, response, skipped)
    return EXIT_OK if response.success else EXIT_ALL_FAILED


def _batch_command(args: argparse.Namespace, err: Console) -> int:
    from pipeline.batch import BatchOptions, check_output, run_batch
    from pipeline.plan import plan_job
    from pipeline.runtime import read_state
    from pipeline.session import ray_runtime

    settings = get_settings()
    kind = args.backend or settings.default_backend()
    plan = plan_job(kind, workers=args.workers, timeout_s=args.timeout, settings=settings, large_pool=True)
    check_output(args.output)  # a usage error, before Ray starts or any image is sent
    cache_path = None if args.no_cache else str((settings.data_dir / "cache.sqlite3").resolve())
    options = BatchOptions(
        input=args.input,
        output=args.output,
        resume=args.resume,
        retry_failed=args.retry_failed,
        read_ahead=args.max_in_flight or 4 * args.workers,
        cache_path=cache_path,
        similar_cache=settings.similar_cache and not args.no_similar_cache,
        reference_date=args.reference_date,
    )
    state = None if settings.ray_address else read_state(settings.data_dir)
    progress_log = BatchProgressLog(err, visible=not args.no_progress)
    if args.via == "gemini-batch":
        from pipeline.batch_api import BatchApiOptions
        from pipeline.batch_api_command import BatchApiLog, run_via_batch_api

        summary = run_via_batch_api(
            options, plan, BatchApiOptions(deadline_s=args.deadline),
            ray_address=settings.ray_address, runtime=state,
            on_progress=BatchApiLog(err, visible=not args.no_progress), on_online_progress=progress_log,
        )  # fmt: skip
    else:
        with ray_runtime(settings.ray_address, state) as use_ray:
            if not use_ray:
                raise ConfigError("the batch job needs Ray; it could not start (see the warning above)")
            summary = run_batch(options, plan, progress_log)
    err.print(
        f"{summary.successful_images}/{summary.total_images} images succeeded in {args.output} "
        f"({len(summary.data.shows)} shows, {summary.cached_images} from the cache); "
        f"failures: {summary.failures_by_code or 'none'}"
    )
    if summary.usage.prompt_tokens:
        prices = (
            "Batch API prices (half) for its answers" if args.via == "gemini-batch" else "paid-tier prices"
        )
        err.print(_cost_line(summary.usage, summary.estimated_cost, prices))
    if progress_log.last is not None and progress_log.last.not_images.total:
        err.print(f"{progress_log.last.not_images.describe()} (not image files by name)")
    return EXIT_OK if summary.successful_images or not summary.total_images else EXIT_ALL_FAILED


def _write_output(response: ParseResponse, out: Path | None) -> None:
    text = response.to_wire_json(indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")


def _runtime_command(args: argparse.Namespace, err: Console) -> int:
    from pipeline.ray_sessions import sweep
    from pipeline.runtime import daemon_pid, read_state, start_runtime, stop_runtime

    settings = get_settings()
    for gone in sweep(settings.data_dir):  # a killed driver's Ray: its agents, its temp dir
        err.print(f"cleaned up the local Ray of a driver that died (pid {gone.pid}): {gone.temp_dir}")
    if args.command == "up":
        backend = args.backend or settings.default_backend()
        err.print(f"starting a local Ray and {args.workers} warm {backend} workers ...")
        state = start_runtime(settings.data_dir, backend, args.workers, on_wait=err.print)
        err.print(f"up: Ray at {state.address} (pid {state.pid}); parse, batch and eval attach to it")
        return EXIT_OK
    if args.command == "down":
        stopped = stop_runtime(settings.data_dir)
        err.print(f"stopped the runtime (pid {stopped})" if stopped else "no runtime was running")
        return EXIT_OK
    running = read_state(settings.data_dir)
    starting = daemon_pid(settings.data_dir) if running is None else None
    if starting is not None:
        print(f"a runtime is starting (daemon pid {starting or '?'}); `down` stops it")
    elif running is None:
        print("no runtime running (`karaoke-pipeline up` starts one)")
    else:
        print(
            f"running since {running.started_at:%Y-%m-%d %H:%M:%S} UTC: Ray at {running.address} "
            f"(pid {running.pid}), {running.workers} warm {running.backend} workers ({running.fleet})"
        )
    return EXIT_OK


def _cache_command(args: argparse.Namespace) -> int:
    from pipeline.cache import ResultCache

    settings = get_settings()
    cache = ResultCache.in_data_dir(settings.data_dir, settings.cache_max_entries)
    if args.action == "clear":
        print(f"removed {cache.clear()} cached results from {cache.path}")
        return EXIT_OK
    stats = cache.stats()
    print(
        f"{stats.path}: {stats.entries} results (at most {stats.max_entries}), "
        f"{stats.size_bytes / 1024:.0f} KiB; oldest {stats.oldest or '-'}, newest {stats.newest or '-'}"
    )
    return EXIT_OK


def _quota_command(args: argparse.Namespace) -> int:
    from pipeline.quota_memory import QuotaStore, describe_memory, memory_files

    files = memory_files(get_settings().data_dir)
    if args.action == "forget":
        for path in files:
            path.unlink(missing_ok=True)
        print(f"forgot {len(files)} learned budgets; the next run starts unmetered and learns again")
        return EXIT_OK
    if not files:
        print("nothing learned yet (no Gemini run has met a 429 here, or a tier or limits are set)")
    for path in files:
        memory = QuotaStore(path).load()
        print("\n".join(describe_memory(memory, time.time())) if memory else f"{path}: unreadable")
    return EXIT_OK


def _cost_line(usage: Usage, cost: float, prices: str = "paid-tier prices") -> str:
    return (
        f"tokens: {usage.prompt_tokens} in, {usage.output_tokens} out, {usage.thinking_tokens} thinking; "
        f"estimated cost ${cost:.4f} at {prices}"
    )


def _print_summary(err: Console, response: ParseResponse, skipped: SkippedFiles | None = None) -> None:
    stats = response.stats
    err.print(
        f"{len(response.data.shows)} shows from {stats.successful_images}/{stats.total_images} images "
        f"in {stats.total_processing_time / 1000:.1f}s with {stats.max_concurrent_workers} workers "
        f"(measured speedup {stats.speedup:.2f}x)"
    )
    if stats.prompt_tokens:
        usage = Usage(
            prompt_tokens=stats.prompt_tokens,
            output_tokens=stats.output_tokens,
            thinking_tokens=stats.thinking_tokens,
        )
        err.print(_cost_line(usage, stats.estimated_cost))
    reasons = Counter(r.error.code for r in response.results if r.error is not None)
    if reasons:
        err.print("failed: " + ", ".join(f"{count} {code}" for code, count in reasons.most_common()))
    if skipped is not None and skipped.total:
        err.print(f"{skipped.describe()} (not image files by name; name a file to have it checked)")


if __name__ == "__main__":
    sys.exit(main())
