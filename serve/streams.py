"""Live progress of a job, as server-sent events or WebSocket messages.

Both read the job's progress (from the progress actor) every ``interval_s`` and send a ``progress`` message
whenever the counts change, then one ``done`` message with the whole job (its
result included) when it ends. A job that is unknown or has expired gets one
``error`` message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from pipeline.job_store import JobStore
from pipeline.schema import BatchProgress
from serve.models import JobView

if TYPE_CHECKING:
    from ray.actor import ActorHandle

HEARTBEAT_S = 15.0


async def job_messages(
    store: JobStore, progress_board: ActorHandle | None, job_id: str, interval_s: float = 0.2
) -> AsyncIterator[dict[str, Any]]:
    """``{"type": "progress" | "done" | "error", ...}`` until the job ends.

    Live counts come from the cluster's progress actor (any replica sees any job's);
    the job's record gives its status, and its result once, at the end.
    """
    last: tuple[object, ...] | None = None
    while True:
        record = await run_in_threadpool(store.get, job_id)
        if record is None:
            yield {"type": "error", "message": f"no job {job_id} (unknown or expired)"}
            return
        progress = record.progress
        if not record.finished:
            progress = await live_progress(progress_board, job_id) or progress
        key = (record.status, progress.processed_images, progress.failed_images, progress.active_workers)
        if key != last:
            last = key
            yield {"type": "progress", "status": record.status, "progress": progress.to_wire()}
        if record.finished:
            yield {"type": "done", "status": record.status, "job": JobView.of(record).to_wire()}
            return
        await asyncio.sleep(interval_s)


async def live_progress(progress_board: ActorHandle | None, job_id: str) -> BatchProgress | None:
    """The job's progress from the progress actor; None when it does not know it or does not answer."""
    if progress_board is None:
        return None
    try:
        snapshot = await asyncio.wait_for(progress_board.get.remote(job_id), timeout=1.0)
    except Exception:  # the actor is restarting: the record's progress stands in
        return None
    return snapshot if isinstance(snapshot, BatchProgress) else None


async def sse_events(store: JobStore, progress_board: ActorHandle | None, job_id: str) -> AsyncIterator[str]:
    """The messages as ``text/event-stream``: event name = message type, data = JSON."""
    messages = job_messages(store, progress_board, job_id).__aiter__()
    next_message = asyncio.ensure_future(messages.__anext__())
    try:
        while True:
            done, _ = await asyncio.wait({next_message}, timeout=HEARTBEAT_S)
            if not done:
                yield ": keep-alive\n\n"  # a comment: proxies keep an idle stream open
                continue
            try:
                message = next_message.result()
            except StopAsyncIteration:
                return
            yield f"event: {message['type']}\ndata: {json.dumps(message)}\n\n"
            next_message = asyncio.ensure_future(messages.__anext__())
    finally:
        next_message.cancel()


async def websocket_feed(
    websocket: WebSocket, store: JobStore, progress_board: ActorHandle | None, job_id: str
) -> None:
    """Send the messages over an accepted WebSocket, then close it (4404 for an unknown job)."""
    await websocket.accept()
    try:
        async for message in job_messages(store, progress_board, job_id):
            await websocket.send_json(message)
            if message["type"] == "error":
                await websocket.close(code=4404)
                return
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
