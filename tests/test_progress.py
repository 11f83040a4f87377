"""BatchProgress arithmetic, without Ray."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.progress import BatchApiProgress, ProgressBoard, ProgressTracker
from pipeline.schema import BatchProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_tracker(total: int = 10, batch_size: int = 3) -> tuple[ProgressTracker, FakeClock]:
    clock = FakeClock()
    return ProgressTracker("job-1", total, batch_size, clock=clock), clock


def test_new_job_is_queued_with_everything_remaining() -> None:
    snapshot = make_tracker()[0].snapshot()
    assert snapshot.status == "queued"
    assert (snapshot.processed_images, snapshot.remaining_images, snapshot.total_batches) == (0, 10, 4)
    assert snapshot.estimated_time_remaining == 0.0


def test_counts_average_and_eta_follow_measured_throughput() -> None:
    tracker, clock = make_tracker()
    tracker.image_started("w1")
    tracker.image_started("w2")
    clock.now += 2.0
    tracker.image_finished(0, ok=True, processing_ms=1500, worker_id="w1")
    tracker.image_finished(1, ok=False, processing_ms=500, worker_id="w2")
    snapshot = tracker.snapshot()
    assert snapshot.status == "running"
    assert (snapshot.processed_images, snapshot.succeeded_images, snapshot.failed_images) == (2, 1, 1)
    assert snapshot.remaining_images == 8
    assert snapshot.average_time_per_image == pytest.approx(1000)
    # 2 images in 2 s of wall time -> 8 remaining take 8 s
    assert snapshot.estimated_time_remaining == pytest.approx(8000)
    assert snapshot.active_workers == 0


def test_a_repeated_report_for_one_image_counts_once() -> None:
    tracker, _ = make_tracker(total=2)
    tracker.image_finished(0, ok=False, processing_ms=10)
    tracker.image_finished(0, ok=True, processing_ms=30)
    snapshot = tracker.snapshot()
    assert (snapshot.processed_images, snapshot.failed_images, snapshot.remaining_images) == (1, 0, 1)


@pytest.mark.parametrize(
    ("processed", "current_batch"),
    [(0, 1), (2, 1), (3, 2), (5, 2), (6, 3), (9, 4), (10, 4)],
)
def test_current_batch_counts_waves_of_k_images(processed: int, current_batch: int) -> None:
    tracker, _ = make_tracker(total=10, batch_size=3)
    for index in range(processed):
        tracker.image_finished(index, ok=True, processing_ms=1)
    snapshot = tracker.snapshot()
    assert (snapshot.current_batch, snapshot.total_batches) == (current_batch, 4)


def test_active_workers_and_retries() -> None:
    tracker, _ = make_tracker()
    tracker.image_started("w1")
    tracker.image_started("w2")
    tracker.worker_gone("w2")
    tracker.add_retry()
    snapshot = tracker.snapshot()
    assert (snapshot.active_workers, snapshot.retries) == (1, 1)


def test_finish_sets_status_and_freezes_eta() -> None:
    tracker, clock = make_tracker(total=2)
    tracker.image_started("w1")
    clock.now += 1
    tracker.image_finished(0, ok=True, processing_ms=1000, worker_id="w1")
    tracker.finish("cancelled")
    clock.now += 100
    snapshot = tracker.snapshot()
    assert snapshot.status == "cancelled"
    assert snapshot.estimated_time_remaining == pytest.approx(1000)
    assert snapshot.active_workers == 0


def test_board_keeps_the_latest_snapshot_of_each_job() -> None:
    board = ProgressBoard()
    a, b = ProgressTracker("a", 2), ProgressTracker("b", 5, 2)
    a.image_finished(0, ok=True, processing_ms=10.0)
    board.publish(a.snapshot())
    board.publish(b.snapshot())
    got_a, got_b = board.get("a"), board.get("b")
    assert got_a is not None and got_b is not None
    assert (got_a.processed_images, got_b.processed_images, got_b.total_batches) == (1, 0, 3)
    board.forget("a")
    assert board.get("a") is None


def test_waiting_for_quota_shows_while_running_only() -> None:
    tracker, _ = make_tracker(3)
    opens = dt.datetime(2026, 12, 1, 12, 0, 5, tzinfo=dt.UTC)
    tracker.start()
    tracker.waiting_for_quota(opens)
    snapshot = tracker.snapshot()
    assert snapshot.waiting_for_quota and snapshot.next_slot_at == opens
    assert snapshot.to_wire()["waitingForQuota"] is True
    tracker.finish("done")
    assert not tracker.snapshot().waiting_for_quota and tracker.snapshot().next_slot_at is None


def test_a_batch_api_run_shows_each_jobs_state_and_its_images() -> None:
    progress = BatchApiProgress(job_id="batch-api-1")
    progress.job("karaoke-a-0", "creating", images=5)
    progress.job("karaoke-b-0", "creating", images=2)
    progress.images = 8  # one more, answered at intake (the cache)
    progress.answered = 1
    progress.job("karaoke-a-0", "running", name="batches/a")
    progress.job("karaoke-b-0", "pending", name="batches/b")
    snapshot = progress.snapshot()
    assert [(job.name, job.state, job.images) for job in snapshot.batch_api_jobs] == [
        ("batches/a", "running", 5),
        ("batches/b", "pending", 2),
    ]
    assert (snapshot.total_images, snapshot.processed_images, snapshot.remaining_images) == (8, 1, 7)
    assert (snapshot.current_batch, snapshot.total_batches, snapshot.status) == (0, 2, "running")
    assert progress.images_by_state()["running"] == 5 and progress.jobs_by_state()["pending"] == 1
    assert progress.line() == (
        "2 Batch API jobs (1 pending, 1 running); 1 answered, 0 failed, 0 left for the online path"
    )
    assert BatchProgress.model_validate_json(snapshot.to_wire_json()) == snapshot  # it crosses the wire
