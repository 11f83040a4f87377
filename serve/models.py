"""Request and response shapes of the HTTP API (camelCase on the wire).

Request fields are strict: ``maxConcurrentWorkers: "3"`` is refused, not
coerced (the old API accepted it and broke its batching).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from pipeline.job_store import JobRecord
from pipeline.schema import ExtractContext, ParseResponse, WireModel

_REQUEST_CONFIG = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class RequestFields(BaseModel):
    """The fields of a parse request other than its images."""

    model_config = _REQUEST_CONFIG
    vendor: StrictStr | None = Field(default=None, description="the karaoke company, when known")
    description: StrictStr | None = Field(default=None, description="free text sent with the screenshots")
    url: StrictStr | None = Field(default=None, description="where the screenshots came from")
    is_admin_upload: StrictBool | None = Field(
        default=None, description="jobs only: an admin upload (needs the admin token)"
    )
    max_concurrent_workers: StrictInt | None = Field(
        default=None, ge=1, le=5, description="workers for this request, an integer 1-5 (default: settings)"
    )
    reference_date: dt.date | None = Field(
        default=None, description="YYYY-MM-DD: the day dates without a year are read against"
    )

    def context(self) -> ExtractContext | None:
        fields = (self.vendor, self.description, self.url, self.reference_date)
        if all(field is None for field in fields):
            return None
        return ExtractContext(
            vendor=self.vendor, description=self.description, url=self.url, reference_date=self.reference_date
        )


class AnalyzeBody(RequestFields):
    """The JSON body of the old app's client."""

    screenshots: list[StrictStr] = Field(
        min_length=1, description="images as base64 strings or data:image/...;base64, URLs"
    )


class SettingsUpdate(BaseModel):
    """A change to the run defaults; fields left out keep their value."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    default_workers: StrictInt | None = Field(default=None, ge=1, le=5, description="workers per request")
    mode: StrictStr | None = Field(default=None, pattern="^(parallel|sequential)$", description="how to run")


class AdminParseResponse(ParseResponse):
    """An admin upload's response: the same, marked for approval."""

    requires_approval: bool = True
    timestamp: dt.datetime


class JobUrls(WireModel):
    status: str
    events: str
    websocket: str


class JobAccepted(WireModel):
    """The 202 answer to a new job."""

    job_id: str
    status: str
    urls: JobUrls


class JobView(JobRecord):
    """A job as the API shows it: admin jobs' results are marked for approval."""

    requires_approval: bool | None = None
    owner: str | None = Field(default=None, exclude=True)  # which replica runs it: not the client's

    @classmethod
    def of(cls, record: JobRecord) -> JobView:
        return cls(**dict(record), requires_approval=True if record.admin else None)
