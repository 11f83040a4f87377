"""The parser deployment: one worker fleet per replica, called by the front through a handle.

It holds what must live beside the workers (the fleet, the job runner, the bound on the
images it holds) and nothing of HTTP: the front (``serve/app.py``) reads and checks
requests, answers every error in the API's JSON shape and outlives a parser replica that
dies. Refusals cross the handle as ``ApiError`` (it pickles whole).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from ray import serve
from starlette.concurrency import run_in_threadpool

from pipeline.cache import ResultCache
from pipeline.errors import JobCancelled
from pipeline.job_store import JobStore
from pipeline.jobs import JobRunner, RunRequest
from pipeline.pool import start_fleet
from pipeline.schema import ParseResponse
from serve.errors import ApiError
from serve.guards import Admission
from serve.metrics import ServeMetrics
from serve.models import AdminParseResponse
from serve.options import ServeOptions


def replica_name() -> str:
    """This replica's id (``local`` outside a replica: a plain ASGI test client)."""
    try:
        return str(serve.get_replica_context().replica_id.unique_id)
    except Exception:
        return "local"


class ParserService:
    """One replica: a worker fleet, its job runner and the bound on the images it holds."""

    def __init__(self, options: ServeOptions) -> None:
        options = options.sized_for_cluster()  # normally done by build_app, where the driver sees the node
        assert options.fleet_size is not None and options.worker_num_cpus is not None
        self.options = options
        plan = options.plan()
        # users' requests and admins' bulk jobs share the fleet: bulk always leaves one worker free
        fleet = start_fleet(
            plan.backend,
            plan.worker,
            options.fleet_size,
            plan.rate_limit,
            ready_only=True,
            interactive_workers=1,
            scaling=plan.scaling,
        )
        store = JobStore.shared(options.jobs_location(), options.job_ttl_s, options.orphan_after_s)
        self.admission = Admission(options.max_queued_images, options.fleet_size)
        self.metrics = ServeMetrics()
        use_cache = options.use_cache and options.backend.cache_identity(None) is not None
        cache = (
            ResultCache.in_data_dir(options.data_dir, similar=options.similar_cache) if use_cache else None
        )
        self.runner = JobRunner(fleet, store, plan.pool, observer=self.metrics, cache=cache)
        self.name = replica_name()

    def __del__(self) -> None:
        """Serve calls this when the replica stops: end running jobs and the fleet."""
        runner = getattr(self, "runner", None)
        if runner is not None:
            runner.close()

    async def ping(self) -> bool:
        """Answers while the replica's event loop runs: the front's health watch."""
        return True

    async def readiness(self) -> tuple[str, dict[str, Any]]:
        """(replica, ``/readyz`` body): whether every worker has started, and the images held."""
        body = self.runner.fleet.readiness().to_wire()
        body["queuedImages"] = self.admission.held
        return self.name, body

    async def run(self, request: RunRequest) -> AsyncIterator[str | dict[str, Any]]:
        """Run a sync request: yields this replica's name at once (the front bounds how long a
        replica takes to accept a request), then the wire JSON of the answer.

        The front cancels this call when its client goes away: the run then stops
        dispatching images, as it does when the handler is cancelled.
        """
        yield self.name
        images = len(request.items)
        self.admission.admit(images)
        client_gone = threading.Event()
        try:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(
                self.runner.executor, self.runner.run_now, request, client_gone.is_set
            )
        except JobCancelled:  # the client went away: nobody reads this
            raise ApiError(499, "the client closed the request") from None
        finally:
            client_gone.set()  # the run has ended, or this call was cancelled (client gone)
            self.admission.release(images)
        yield await run_in_threadpool(_rendered, response, request.admin)

    async def submit(self, request: RunRequest) -> tuple[str, dict[str, Any]]:
        """Start a background job; (replica, the job's record as wire JSON)."""
        images = len(request.items)
        self.admission.admit(images)
        try:
            record = await run_in_threadpool(
                self.runner.submit, request, partial(self.admission.release, images)
            )
        except BaseException:
            self.admission.release(images)
            raise
        return self.name, {"jobId": record.job_id, "status": record.status}


def _rendered(response: ParseResponse, admin: bool) -> dict[str, Any]:
    """The wire JSON; an admin upload's is marked for approval and timestamped."""
    if not admin:
        return response.to_wire()
    marked = AdminParseResponse(**dict(response), timestamp=dt.datetime.now(dt.UTC))
    return marked.to_wire()


# Decorated here, not with @: the class stays importable under its own name, so Ray
# pickles it by reference. The deployment keeps the name ``ParserService`` (the configs
# in serve/config.yaml and deploy/ set its replicas and autoscaling by that name).
ParserDeployment = serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)(
    ParserService
)
