"""Every shape that crosses a process boundary, a file or the wire.

camelCase on the wire, snake_case in Python: models accept either spelling
(``populate_by_name``) and ``to_wire`` dumps with aliases. Field names and
meanings follow the contracts in ARCHITECTURE.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

ErrorCode = Literal[
    "empty",
    "not_an_image",
    "not_a_file",
    "corrupt_image",
    "unsupported_type",
    "too_large",
    "too_many_pixels",
    "timeout",
    "rate_limited",
    "upstream_error",
    "blocked",
    "bad_model_output",
    "worker_crashed",
    "auth_error",
    "internal_error",
]
ImageStatus = Literal["ok", "failed", "cached"]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]

HHMM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
Confidence = Field(default=0.5, ge=0.0, le=1.0, description="0..1, higher is surer")


class WireModel(BaseModel):
    """Base of every schema model: camelCase aliases, snake_case attributes."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict with camelCase keys."""
        return self.model_dump(mode="json", by_alias=True)

    def to_wire_json(self, indent: int | None = None) -> str:
        return self.model_dump_json(by_alias=True, indent=indent)


class Show(WireModel):
    venue_name: str
    day: Weekday | None = None
    date: dt.date | None = Field(default=None, description="YYYY-MM-DD for one-off events")
    start_time: str | None = Field(default=None, pattern=HHMM_PATTERN)
    end_time: str | None = Field(default=None, pattern=HHMM_PATTERN)
    time: str | None = Field(default=None, description="the time text as seen, e.g. 9PM-2AM")
    dj_name: str | None = None
    vendor: str | None = None
    description: str | None = None
    confidence: float = Confidence
    sources: list[str] = Field(default_factory=list)
    seen_on_dates: list[dt.date] = Field(
        default_factory=list,
        exclude_if=lambda dates: not dates,  # on the wire only when there are some: old clients, truth files
        description="a weekly show: the dates it was seen listed for (provenance), oldest first",
    )


class Venue(WireModel):
    name: str
    address: str | None = Field(default=None, description="street address")
    city: str | None = None
    state: str | None = Field(default=None, description="2-letter code")
    zip: str | None = None
    phone: str | None = None
    website: str | None = None
    confidence: float = Confidence


class Dj(WireModel):
    name: str
    aliases: list[str] = Field(default_factory=list)
    social_handles: list[str] = Field(default_factory=list)
    confidence: float = Confidence


class Vendor(WireModel):
    """A karaoke or DJ company, not a venue."""

    name: str
    website: str | None = None
    description: str | None = None
    confidence: float = Confidence


class ParsedSchedule(WireModel):
    vendors: list[Vendor] = Field(default_factory=list)
    venues: list[Venue] = Field(default_factory=list)
    djs: list[Dj] = Field(default_factory=list)
    shows: list[Show] = Field(default_factory=list)


class ExtractContext(WireModel):
    """Optional hints that come with a request (the old API's body fields)."""

    vendor: str | None = None
    description: str | None = None
    url: str | None = None
    reference_date: dt.date | None = Field(
        default=None,
        description="the day dates without a year are read against (default: capture date, today)",
    )


class ImageError(WireModel):
    code: ErrorCode
    message: str
    quota: str | None = Field(default=None, description="the quota a rate_limited image ran into")
    retry_after: float | None = Field(default=None, description="seconds the server asked us to wait")
    quota_scope: Literal["minute", "day", "zero"] | None = Field(
        default=None, exclude=True, description="how long the quota lasts: for the dispatcher, not the wire"
    )
    quota_limit: int | None = Field(
        default=None,
        exclude=True,
        description="the limit the 429 named: for the budget to learn, not the wire",
    )
    retryable: bool = Field(
        default=False,
        exclude=True,
        description="another attempt may succeed: for the dispatcher, not the wire",
    )


class Usage(WireModel):
    """Tokens one request was billed for, as the API reported them (``usageMetadata``)."""

    prompt_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    thinking_tokens: int = Field(default=0, ge=0)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            thinking_tokens=self.thinking_tokens + other.thinking_tokens,
        )


class ImageResult(WireModel):
    image_index: int = Field(ge=0)
    source: str
    sha256: str | None = Field(default=None, description="sha256 of the original bytes")
    success: bool
    status: ImageStatus
    similar_to: str | None = Field(
        default=None, description="cached as a near-copy of the image with this sha256 (similar-image cache)"
    )
    error: ImageError | None = None
    attempts: int = Field(default=0, ge=0)
    processing_time: float = Field(default=0.0, ge=0, description="milliseconds")
    worker: str | None = None
    usage: Usage | None = Field(default=None, description="tokens billed, where the backend reports them")
    sent_at: float | None = Field(
        default=None, exclude=True, description="epoch seconds its request left the worker (for the budget)"
    )
    data: ParsedSchedule = Field(default_factory=ParsedSchedule)


class ParseStats(WireModel):
    total_images: int
    successful_images: int
    failed_images: int
    cached_images: int = 0
    retries: int = 0
    max_concurrent_workers: int
    total_processing_time: float = Field(description="wall time in ms")
    average_processing_time: float = Field(description="mean per-image time in ms")
    speedup: float = Field(description="sum of per-image times / wall time, measured")
    prompt_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    estimated_cost: float = Field(default=0.0, description="US dollars, from the price table in settings")


class ParseResponse(WireModel):
    success: bool
    data: ParsedSchedule
    results: list[ImageResult]
    stats: ParseStats


class BatchApiJob(WireModel):
    """One Gemini Batch API job of a ``batch --via gemini-batch`` run, as last polled."""

    display_name: str
    name: str | None = Field(default=None, description="batches/ID once its create was answered")
    state: str = Field(description="creating, pending, running, succeeded, failed, cancelled or expired")
    images: int = Field(default=0, description="images whose answer this job carries")


class BatchProgress(WireModel):
    """The original app's progress interface, plus job identity and status."""

    total_images: int = 0
    processed_images: int = 0
    remaining_images: int = 0
    failed_images: int = 0
    current_batch: int = 0
    total_batches: int = 0
    average_time_per_image: float = Field(default=0.0, description="ms")
    estimated_time_remaining: float = Field(default=0.0, description="ms")
    job_id: str = ""
    status: JobStatus = "queued"
    succeeded_images: int = 0
    retries: int = 0
    active_workers: int = 0
    fleet_workers: int = Field(default=0, description="worker actors of the fleet now (it follows the load)")
    max_workers: int = Field(default=0, description="the most workers the fleet may grow to")
    waiting_for_quota: bool = Field(default=False, description="images wait for a rate-limit slot")
    next_slot_at: dt.datetime | None = Field(default=None, description="when the next slot opens")
    started_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    batch_api_jobs: list[BatchApiJob] = Field(
        default_factory=list, description="a Batch API run's jobs and their states (batch --via gemini-batch)"
    )
