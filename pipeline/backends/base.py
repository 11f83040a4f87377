"""The backend protocol, per-backend options and the kind -> backend registry.

Backends know nothing of Ray: a worker actor builds one backend from its
options and calls ``extract`` once per image. Heavy dependencies (the OCR
engine, the Gemini SDK) are imported inside each backend's module.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Literal, Protocol, Union

from pydantic import Field

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.backends.options import BackendOptionsBase
from pipeline.backends.result import Extraction
from pipeline.errors import ConfigError
from pipeline.schema import ExtractContext

if TYPE_CHECKING:
    from PIL.Image import Image

    from pipeline.images import SourceImage
    from pipeline.settings import Settings


class LocalOptions(BackendOptionsBase):
    """Options of the offline backend: rapidocr + rule-based schedule parser."""

    # CPU-bound: on a busy machine one image takes far longer than a Gemini call (52 s for a
    # sample screenshot at load 12 on 2 cores, 2.6 s at load 2.7), and a retry only redoes it
    default_timeout_s = 180.0
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
    line_roles: bool = Field(
        default=True,
        description="let the line-role model vet each show's venue line (pipeline/line_roles, "
        "docs/quality.md); KARAOKE_LINE_ROLES=0 leaves the venues to the rules",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalOptions:
        return cls(line_roles=settings.line_roles)

    def sized_for(self, workers: int) -> LocalOptions:
        """These options with this machine's cores split evenly between ``workers`` OCR workers.

        Workers that each took every core would fight over them; one alone uses them all.
        """
        return self.model_copy(update={"ocr_threads": max(1, (os.cpu_count() or 1) // workers)})

    def for_job(self, *, workers: int, timeout_s: float) -> LocalOptions:
        return self.sized_for(workers)

    def for_cpu_share(self, share: float) -> LocalOptions:
        return self.model_copy(update={"ocr_threads": max(1, min(16, round(share)))})


class ScriptedOptions(BackendOptionsBase):
    """Options of the scripted backend, for tests and demos of supervision.

    Each image's PNG text chunk ``script`` says what to do: ``ok`` (default),
    ``sleep:SECONDS``, ``crash`` (the worker process exits), ``fail:CODE`` or
    ``bug`` (an unexpected exception).
    """

    io_bound_cpu_share = 0.1
    kind: Literal["scripted"] = Field(default="scripted", description="backend name")
    delay_s: float = Field(default=0.0, ge=0.0, description="time each image takes, seconds")
    log_file: str | None = Field(
        default=None, description="append each image's venue here, to count calls across processes"
    )


# The registry: kind -> its options class and "module:Backend" (the module is imported only
# when that backend is built). A new backend is one module and one line here.
REGISTRY: dict[str, tuple[type[BackendOptionsBase], str]] = {
    "local": (LocalOptions, "pipeline.backends.local.engine:LocalBackend"),
    "scripted": (ScriptedOptions, "pipeline.testing.scripted:ScriptedBackend"),
    "gemini": (GeminiOptions, "pipeline.backends.gemini.backend:GeminiBackend"),
}
OPTIONS_BY_KIND: dict[str, type[BackendOptionsBase]] = {kind: entry[0] for kind, entry in REGISTRY.items()}
BACKENDS: dict[str, str] = {kind: entry[1] for kind, entry in REGISTRY.items()}

if TYPE_CHECKING:
    BackendOptions = BackendOptionsBase  # callers use the traits, never a particular class
else:  # pydantic validates any registered kind by its discriminator
    BackendOptions = Annotated[Union[tuple(OPTIONS_BY_KIND.values())], Field(discriminator="kind")]  # noqa: UP007


class Backend(Protocol):
    """Turns one image into an ``Extraction`` (the schedule and the call's usage), or raises BackendError.

    Workers hand over a ``SourceImage`` (original bytes, type, header facts,
    pixels decoded on first use), so a backend that can send the bytes as they
    came never pays for decoding; ``pipeline.images.pixels_of`` gives the pixels
    of either kind. Tests may pass decoded PIL images directly.
    """

    kind: str

    def extract(self, image: Image | SourceImage, context: ExtractContext | None = None) -> Extraction: ...


def _unknown(kind: str) -> ConfigError:
    return ConfigError(f"unknown backend {kind!r}; known backends: {', '.join(sorted(BACKENDS))}")


def options_for(kind: str) -> BackendOptions:
    """Default options for a backend kind; unknown kinds list the known ones."""
    from pipeline.settings import get_settings

    options_class = OPTIONS_BY_KIND.get(kind)
    if options_class is None:
        raise _unknown(kind)
    return options_class.from_settings(get_settings())


def make_backend(options: BackendOptions) -> Backend:
    """Build the backend named by ``options.kind`` (imports it on first use)."""
    target = BACKENDS.get(options.kind)
    if target is None:
        raise _unknown(options.kind)
    module_name, class_name = target.split(":")
    backend_class = getattr(import_module(module_name), class_name)
    backend: Backend = backend_class(options)
    return backend
