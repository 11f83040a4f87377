"""``karaoke-pipeline parse`` on local paths, as one function (``eval`` runs it too).

Find the images (counting what the scan passed over), plan the job, read the files, attach to
a runtime of ``karaoke-pipeline up`` or start a Ray session, and run it with a progress bar.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from pipeline.cache import ResultCache
from pipeline.console import ProgressBar
from pipeline.errors import ConfigError
from pipeline.images import find_images
from pipeline.local_files import SkippedFiles
from pipeline.parse import intake, run_parse
from pipeline.plan import plan_job
from pipeline.runtime import read_state, warm_fleet_for
from pipeline.schema import ExtractContext, ParseResponse
from pipeline.session import ray_runtime
from pipeline.settings import get_settings


def parse_paths(
    paths: Sequence[Path],
    *,
    backend: str | None,
    workers: int,
    timeout_s: float | None,
    use_cache: bool = True,
    similar_cache: bool = True,
    in_process: bool = False,
    progress: Console | None = None,
    reference_date: dt.date | None = None,
    skipped: SkippedFiles | None = None,
) -> ParseResponse:
    """Parse image files and directories as ``karaoke-pipeline parse`` does (also used by ``eval``).

    ``reference_date`` is the day dates without a year are read against; ``skipped`` counts
    the files the directory scan passed over, by type; ``similar_cache=False`` (or
    ``KARAOKE_SIMILAR_CACHE=0``) answers only exact copies from the cache.

    Raises:
        ConfigError: a path is missing, no image was found, or the backend cannot run.
    """
    settings = get_settings()
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise ConfigError(f"no such file or directory: {', '.join(missing)}")
    skipped = skipped if skipped is not None else SkippedFiles()
    images = find_images(list(paths), skipped)
    if not images:
        found = f" ({skipped.describe()})" if skipped.total else ""
        raise ConfigError(f"no images found in {', '.join(map(str, paths))}{found}")
    plan = plan_job(
        backend or settings.default_backend(), workers=workers, timeout_s=timeout_s, settings=settings
    )
    cacheable = use_cache and plan.backend.cache_identity(None) is not None
    similar = similar_cache and settings.similar_cache
    cache = (
        ResultCache.in_data_dir(settings.data_dir, settings.cache_max_entries, similar=similar)
        if cacheable
        else None
    )
    items = intake(images, max_bytes=settings.max_image_bytes)
    state = None if in_process or settings.ray_address else read_state(settings.data_dir)
    warm_name = warm_fleet_for(plan, state)
    runtime = contextlib.nullcontext(False) if in_process else ray_runtime(settings.ray_address, state)
    console = progress or Console(stderr=True)
    show_bar = progress is not None and progress.is_terminal
    with runtime as use_ray, ProgressBar(console, len(images), show_bar) as on_progress:
        return run_parse(
            items,
            plan.backend,
            pool_options=plan.pool,
            worker_options=plan.worker,
            use_ray=use_ray,
            on_progress=on_progress,
            cache=cache,
            rate_limit=plan.rate_limit,
            scaling=plan.scaling,
            warm=(warm_name, state.workers) if warm_name is not None and state is not None else None,
            context=ExtractContext(reference_date=reference_date) if reference_date else None,
        )
