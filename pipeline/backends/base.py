"""The backend protocol, per-backend options and the kind -> backend registry.

Backends know nothing of Ray: a worker actor builds one backend from its
options and calls ``extract`` once per image. Heavy dependencies (the OCR
engine, the Gemini SDK) are imported inside each backend's module.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipeline.backends.gemini import GeminiOptions
from pipeline.errors import ConfigError
from pipeline.schema import ParsedSchedule, WireModel

if TYPE_CHECKING:
    from PIL.Image import Image


class ExtractContext(WireModel):
    """Optional hints that come with a request (the old API's body fields)."""

    vendor: str | None = None
    description: str | None = None
    url: str | None = None
    reference_date: dt.date | None = Field(
        default=None,
        description="the day dates without a year are read against (default: capture date, today)",
    )


class LocalOptions(BaseModel):
    """Options of the offline backend: rapidocr + rule-based schedule parser."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["local"] = Field(default="local", description="backend name")
    ocr_threads: int = Field(
        default=1, ge=1, le=16, description="onnxruntime intra-op threads; match the actor's CPU share"
    )
    min_text_score: float = Field(
        default=0.5, ge=0.0, le=1.0, description="OCR lines scoring below this are dropped"
    )
    max_side: int = Field(
        default=2000, ge=320, description="longest image side fed to the text detector, in pixels"
    )

    def sized_for(self, workers: int) -> LocalOptions:
        """These options with this machine's cores split evenly between ``workers`` OCR workers.

        Workers that each took every core would fight over them; one alone uses them all.
        """
        return self.model_copy(update={"ocr_threads": max(1, (os.cpu_count() or 1) // workers)})


class ScriptedOptions(BaseModel):
    """Options of the scripted backend, for tests and demos of supervision.

    Each image's PNG text chunk ``script`` says what to do: ``ok`` (default),
    ``sleep:SECONDS``, ``crash`` (the worker process exits) or ``fail:CODE``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["scripted"] = Field(default="scripted", description="backend name")
    delay_s: float = Field(default=0.0, ge=0.0, description="time each image takes, seconds")
    log_file: str | None = Field(
        default=None, description="append each image's venue here, to count calls across processes"
    )


BackendOptions = Annotated[LocalOptions | ScriptedOptions | GeminiOptions, Field(discriminator="kind")]
OPTIONS_BY_KIND: dict[str, type[LocalOptions] | type[ScriptedOptions] | type[GeminiOptions]] = {
    "local": LocalOptions,
    "scripted": ScriptedOptions,
    "gemini": GeminiOptions,
}


class Backend(Protocol):
    """Turns one decoded image into a ParsedSchedule, or raises BackendError."""

    kind: str

    def extract(self, image: Image, context: ExtractContext | None = None) -> ParsedSchedule: ...


# kind -> "module:Class"; modules are imported only when that backend is built.
BACKENDS: dict[str, str] = {
    "local": "pipeline.backends.local:LocalBackend",
    "scripted": "pipeline.testing.scripted:ScriptedBackend",
    "gemini": "pipeline.backends.gemini:GeminiBackend",
}


def _unknown(kind: str) -> ConfigError:
    return ConfigError(f"unknown backend {kind!r}; known backends: {', '.join(sorted(BACKENDS))}")


def options_for(kind: str) -> BackendOptions:
    """Default options for a backend kind; unknown kinds list the known ones."""
    options_class = OPTIONS_BY_KIND.get(kind)
    if options_class is None:
        raise _unknown(kind)
    if options_class is GeminiOptions:  # the key, model and base URL come from the settings
        from pipeline.settings import get_settings

        return GeminiOptions.from_settings(get_settings())
    return options_class()


class RemoteCallHooks(NamedTuple):
    """Callbacks a backend that calls a rate-limited API makes around each request."""

    acquire_permit: Callable[[], object]
    on_rate_limited: Callable[[float | None], object]


def make_backend(options: BackendOptions, hooks: RemoteCallHooks | None = None) -> Backend:
    """Build the backend named by ``options.kind`` (imports it on first use).

    ``hooks`` reach only backends that call a remote API (Gemini).
    """
    target = BACKENDS.get(options.kind)
    if target is None:
        raise _unknown(options.kind)
    module_name, class_name = target.split(":")
    backend_class = getattr(import_module(module_name), class_name)
    if hooks is not None and isinstance(options, GeminiOptions):
        backend: Backend = backend_class(
            options, acquire_permit=hooks.acquire_permit, on_rate_limited=hooks.on_rate_limited
        )
    else:
        backend = backend_class(options)
    return backend
