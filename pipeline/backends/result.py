"""What one backend call gives back: the schedule and what the call cost.

A backend returns its usage with its answer instead of leaving it on an attribute
for the worker to read afterwards, so an answer and its bill cannot come apart.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from pipeline.schema import ParsedSchedule, Usage

__all__ = ["Extraction"]


class Extraction(BaseModel):
    """One ``extract`` call's answer: the schedule read, and the tokens the request was billed for.

    ``usage`` is None for a backend that is not metered (local OCR, the scripted backend).
    """

    model_config = ConfigDict(frozen=True)

    schedule: ParsedSchedule
    usage: Usage | None = None
