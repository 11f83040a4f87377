"""Live progress of a job, as server-sent events or WebSocket messages.

Both read the job's record every ``interval_s`` and send a ``progress`` message
whenever the counts change, then one ``done`` message with the whole job (its
result included) when it ends. A job that is unknown or has expired gets one
``error`` message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from pipeline.job_store import JobStore
from serve.models import JobView

HEARTBEAT_S = 15.0


async def job_messages(
    store: JobStore, job_id: str, interval_s: float = 0.2
) -> AsyncIterator[dict[str, Any]]:
    """``{"type": "progress" | "done" | "error", ...}`` until the job ends."""
    last: tuple[object, ...] | None = None
    while True:
        record = store.get(job_id)
        if record is None:
            yield {"type": "error", "message": f"no job {job_id} (unknown or expired)"}
            return
        progress = record.progress
        key = (record.status, progress.processed_images, progress.failed_images, progress.active_workers)
        if key != last:
            last = key
            yield {"type": "progress", "status": record.status, "progress": progress.to_wire()}
        if record.finished:
            yield {"type": "done", "status": record.status, "job": JobView.of(record).to_wire()}
            return
        await asyncio.sleep(interval_s)


async def sse_events(store: JobStore, job_id: str) -> AsyncIterator[str]:
    """The messages as ``text/event-stream``: event name = message type, data = JSON."""
    messages = job_messages(store, job_id).__aiter__()
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


async def websocket_feed(websocket: WebSocket, store: JobStore, job_id: str) -> None:
    """Send the messages over an accepted WebSocket, then close it (4404 for an unknown job)."""
    await websocket.accept()
    try:
        async for message in job_messages(store, job_id):
            await websocket.send_json(message)
            if message["type"] == "error":
                await websocket.close(code=4404)
                return
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
