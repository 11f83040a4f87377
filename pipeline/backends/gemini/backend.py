"""The Gemini backend: one google-genai client per backend, one request per ``extract``.

Each ``extract`` sends one image (its original bytes when nothing must change,
else upright and downscaled; always its real MIME type) and our prompt, asks
for JSON in a response schema, and reads the reply text itself (see
``gemini.output``). A failure leaves as a BackendError classified by
``gemini.errors``: retryable or not, the server's ``retryDelay``, the quota a
429 names and its limit. Retrying is the send path's (``pipeline.retry``): each
attempt is a dispatch of its own with a slot from the budget; the options below
set that policy for Gemini (``retry_policy``).

The SDK is imported when a client is built, so importing this module (for
``GeminiOptions``) stays cheap; it does not import ``pipeline.backends.base``
at run time, so ``base`` may import ``GeminiOptions`` from here. The API key is
a ``SecretStr``: it never shows in reprs, logs, errors or results.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr

from pipeline.backends.gemini.errors import classify_error
from pipeline.backends.gemini.output import PROMPT_VERSION, build_prompt, read_response, response_schema
from pipeline.backends.gemini.quotas import limits_for, price_for
from pipeline.backends.options import BackendOptionsBase
from pipeline.backends.result import Extraction
from pipeline.errors import BackendError, ConfigError
from pipeline.images import SourceImage
from pipeline.retry import RetryPolicy
from pipeline.schema import Usage

if TYPE_CHECKING:
    from google import genai
    from PIL.Image import Image

    from pipeline.ratelimit import RateLimitOptions
    from pipeline.schema import ExtractContext
    from pipeline.settings import Settings

__all__ = ["PROMPT_VERSION", "GeminiBackend", "GeminiOptions", "encode_image", "image_part_bytes"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'karaoke-pipeline[gemini]'"
# A request must stay under 20 MB with base64 (4/3) and the prompt counted.
MAX_INLINE_IMAGE_BYTES = 14_000_000
_SENDABLE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
# The pool waits this much longer than the backend's own per-image deadline, so a
# backend that gives up on time reports its own cause instead of a bare timeout.
DEADLINE_GRACE_S = 5.0
# Gemini meters an image by 768x768 tiles of 258 tokens (one tile when both sides are <= 384 px).
TILE_PX, TOKENS_PER_TILE, SMALL_IMAGE_PX = 768, 258, 384
PROMPT_TOKENS = 700  # our prompt and the response schema, about; corrected from usageMetadata


class GeminiOptions(BackendOptionsBase):
    """Options of the Gemini backend; pass them to each worker (remote nodes lack the driver's env)."""

    calls_remote_api = True
    io_bound_cpu_share = 0.15  # five workers and a replica fit on two cores with room to spare
    kind: Literal["gemini"] = Field(default="gemini", description="backend name")
    model: str = Field(default="gemini-2.5-flash", description="Gemini model name")
    api_key: SecretStr | None = Field(default=None, description="API key; never logged or shown")
    base_url: str | None = Field(default=None, description="API base URL (None: Google's); the fake server")
    api_version: str = Field(
        default="v1beta", description="REST API version; v1beta has structured output on every model"
    )
    temperature: float | None = Field(
        default=0.0, ge=0.0, le=2.0, description="sampling temperature; None: the model's default"
    )
    max_output_tokens: int | None = Field(
        default=None, ge=1, description="reply token cap; None: model default"
    )
    thinking_budget: int | None = Field(
        default=None, ge=-1, description="thinking tokens (0 turns thinking off on 2.5 Flash); None: default"
    )
    attempt_timeout_s: float = Field(
        default=20.0, gt=0, description="time limit of one HTTP attempt, seconds"
    )
    image_deadline_s: float = Field(
        default=30.0, gt=0, description="the job's per-image deadline: time in flight one attempt may take"
    )
    max_retries: int = Field(
        default=3, ge=0, le=10, description="retries after transient failures (5xx, timeouts), per image"
    )
    backoff_base_s: float = Field(default=1.0, gt=0, description="first backoff ceiling; doubles per retry")
    backoff_cap_s: float = Field(default=20.0, gt=0, description="largest backoff ceiling, seconds")
    max_side_px: int = Field(
        default=3000, ge=256, le=10_000, description="longer images are downscaled to this side first"
    )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> GeminiOptions:
        """Options from the process settings (key, model, base URL), with explicit overrides."""
        values: dict[str, Any] = {
            "api_key": settings.gemini_api_key,
            "model": settings.gemini_model,
            "base_url": settings.gemini_base_url,
        }
        return cls(**{**values, **overrides})

    # --- traits (see pipeline.backends.options) ---------------------------------------

    def for_job(self, *, workers: int, timeout_s: float) -> GeminiOptions:
        return self.model_copy(update={"image_deadline_s": timeout_s})

    def pool_deadline_s(self, timeout_s: float) -> float:
        return timeout_s + DEADLINE_GRACE_S

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries, backoff_base_s=self.backoff_base_s, backoff_cap_s=self.backoff_cap_s
        )

    def require_usable(self) -> None:
        if self.api_key is None:
            raise ConfigError("the gemini backend needs an API key: set GEMINI_API_KEY or GOOGLE_API_KEY")

    def rate_limit(self, settings: Settings) -> RateLimitOptions:
        """The budget of this model on this key's project: set, a tier's, or learned from 429s."""
        return limits_for(self.model, settings, self.key_fingerprint())

    def key_fingerprint(self) -> str | None:
        """A short hash of the API key, never the key: which project's quota a budget is."""
        if self.api_key is None:
            return None
        return hashlib.sha256(self.api_key.get_secret_value().encode()).hexdigest()[:12]

    def cache_identity(self, context: ExtractContext | None) -> str:
        """A digest of the model, the whole prompt with its hints, the generation config and schema."""
        shaping = {
            "model": self.model,
            "prompt_version": PROMPT_VERSION,
            "prompt": _prompt_for(context),
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
            "thinking_budget": self.thinking_budget,
            "max_side_px": self.max_side_px,
            "schema": response_schema(),
        }
        text = json.dumps(shaping, sort_keys=True, default=str)
        return "gemini:" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def estimate_input_tokens(self, width: int | None, height: int | None) -> int:
        """Prompt plus image tiles, after the downscale to ``max_side_px``."""
        if not width or not height:
            return PROMPT_TOKENS + 4 * TOKENS_PER_TILE  # size unknown: a typical screenshot
        scale = min(1.0, self.max_side_px / max(width, height))
        sent_width, sent_height = width * scale, height * scale
        if sent_width <= SMALL_IMAGE_PX and sent_height <= SMALL_IMAGE_PX:
            return PROMPT_TOKENS + TOKENS_PER_TILE
        tiles = math.ceil(sent_width / TILE_PX) * math.ceil(sent_height / TILE_PX)
        return PROMPT_TOKENS + tiles * TOKENS_PER_TILE

    def estimated_cost(self, usage: Usage, settings: Settings) -> float:
        price = price_for(self.model, settings)
        output = usage.output_tokens + usage.thinking_tokens  # thinking is billed as output
        return (usage.prompt_tokens * price.input + output * price.output) / 1_000_000


def _prompt_for(context: ExtractContext | None) -> str:
    """Our prompt with the request's hints; a reference day says how to read a date without a year."""
    prompt = build_prompt(
        vendor=context.vendor if context else None,
        description=context.description if context else None,
        url=context.url if context else None,
    )
    if context is not None and context.reference_date is not None:
        prompt += (
            f"\nToday is {context.reference_date.isoformat()}. A date shown without a year is in the "
            "year, nearest to today, in which its shown weekday falls on it."
        )
    return prompt


ClientFactory = Callable[[GeminiOptions], Any]


def _import_genai() -> tuple[Any, Any]:
    """The ``google.genai`` module and its ``types``, or ConfigError naming the extra."""
    try:
        from google import genai
        from google.genai import types
    except ImportError as exc:
        raise ConfigError(f"the gemini backend needs google-genai: {INSTALL_HINT}") from exc
    return genai, types


def make_client(options: GeminiOptions) -> genai.Client:
    """One google-genai client for these options; the SDK's own retries stay off."""
    if options.api_key is None:
        raise ConfigError("the gemini backend needs an API key: set GEMINI_API_KEY or GOOGLE_API_KEY")
    sdk, types = _import_genai()
    http_options = types.HttpOptions(
        base_url=options.base_url,
        api_version=options.api_version,
        timeout=int(options.attempt_timeout_s * 1000),
    )
    client: genai.Client = sdk.Client(
        api_key=options.api_key.get_secret_value(), vertexai=False, http_options=http_options
    )
    return client


# --- the image --------------------------------------------------------------------


def _source_mime_type(image: Image) -> str | None:
    """The type the image arrived as: ``info['mime_type']`` or the format PIL opened it from."""
    from PIL import Image as PILImage

    declared = image.info.get("mime_type")
    if isinstance(declared, str):
        return declared
    return PILImage.MIME.get(image.format or "")


def _encoded(image: Image, image_format: str) -> bytes:
    if image_format in ("JPEG", "WEBP") and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": 90} if image_format in ("JPEG", "WEBP") else {"optimize": False}
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def encode_image(image: Image, max_side_px: int, source_mime_type: str | None = None) -> tuple[bytes, str]:
    """Bytes and MIME type to send: downscaled to ``max_side_px``, in the source type when Gemini
    takes it (else PNG), and JPEG when that is needed to stay under the request limit."""
    from PIL import Image as PILImage

    source_type = source_mime_type or _source_mime_type(image)  # before resize drops it
    image_format = _SENDABLE_FORMATS.get(source_type or "", "PNG")
    if max(image.size) > max_side_px:
        scale = max_side_px / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, PILImage.Resampling.LANCZOS)
    data = _encoded(image, image_format)
    if len(data) > MAX_INLINE_IMAGE_BYTES and image_format != "JPEG":
        image_format, data = "JPEG", _encoded(image, "JPEG")
    if len(data) > MAX_INLINE_IMAGE_BYTES:
        raise BackendError(
            "too_large", f"{len(data)} bytes after downscaling, limit {MAX_INLINE_IMAGE_BYTES}"
        )
    return data, PILImage.MIME[image_format]


def image_part_bytes(image: Image | SourceImage, max_side_px: int) -> tuple[bytes, str]:
    """Bytes and MIME type to send: the original bytes, untouched, when nothing must change.

    That is a ``SourceImage`` of a type Gemini takes, upright (no EXIF rotation
    to apply), within ``max_side_px`` and the request limit; anything else is
    decoded and re-encoded by ``encode_image``.
    """
    if not isinstance(image, SourceImage):
        return encode_image(image, max_side_px)
    fits = max(image.width, image.height) <= max_side_px and len(image.data) <= MAX_INLINE_IMAGE_BYTES
    if image.mime_type in _SENDABLE_FORMATS and image.upright and fits:
        return image.data, image.mime_type
    return encode_image(image.pixels, max_side_px, image.mime_type)


class GeminiBackend:
    """Gemini through one google-genai client, built once and reused for every image.

    ``client_factory`` builds that client (tests point it at the fake server). Each
    ``extract`` makes exactly one request: retries belong to the send path
    (``pipeline.retry``), so that every attempt takes its own slot from the budget and
    none leaves before the server's ``retryDelay``. The answer carries the tokens its
    request was billed for.
    """

    kind = "gemini"

    def __init__(self, options: GeminiOptions, client_factory: ClientFactory | None = None) -> None:
        self.options = options
        self._client = (client_factory or make_client)(options)
        self._generation_config: Any = None

    def __repr__(self) -> str:
        return f"GeminiBackend(model={self.options.model!r}, base_url={self.options.base_url!r})"

    def extract(self, image: Image | SourceImage, context: ExtractContext | None = None) -> Extraction:
        """The schedule in ``image`` and its usage from one request; a classified BackendError on failure."""
        contents = self._contents(image, context)
        timeout_s = min(self.options.attempt_timeout_s, self.options.image_deadline_s)
        try:
            response = self._client.models.generate_content(
                model=self.options.model, contents=contents, config=self._config(timeout_s)
            )
        except Exception as exc:
            raise self._redacted(classify_error(exc)) from exc
        return Extraction(schedule=read_response(response), usage=read_usage(response))

    def close(self) -> None:
        """Release the client's HTTP connections."""
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    def _contents(self, image: Image | SourceImage, context: ExtractContext | None) -> list[Any]:
        return request_contents(self.options, image, context)

    def _config(self, timeout_s: float) -> Any:
        """Built once: the SDK's config object (and its schema) is the same for every request."""
        if self._generation_config is None:
            self._generation_config = generation_config(self.options, timeout_s)
        return self._generation_config

    def _redacted(self, error: BackendError) -> BackendError:
        """The same error with the API key, should any message echo it, blanked out."""
        key = self.options.api_key.get_secret_value() if self.options.api_key else ""
        if key and key in error.message:
            error.message = error.message.replace(key, "[redacted]")
            error.args = (error.message,)
        return error


def request_contents(
    options: GeminiOptions, image: Image | SourceImage, context: ExtractContext | None
) -> list[Any]:
    """The image part and our prompt: what one request asks, online or in a Batch API job."""
    _, types = _import_genai()
    data, mime_type = image_part_bytes(image, options.max_side_px)
    return [types.Part.from_bytes(data=data, mime_type=mime_type), _prompt_for(context)]


def generation_config(options: GeminiOptions, timeout_s: float | None = None) -> Any:
    """JSON mode, our response schema and the sampling options; a per-request timeout online only."""
    _, types = _import_genai()
    thinking = None
    if options.thinking_budget is not None:
        thinking = types.ThinkingConfig(thinking_budget=options.thinking_budget)
    return types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=response_schema(),
        temperature=options.temperature,
        max_output_tokens=options.max_output_tokens,
        thinking_config=thinking,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
        if timeout_s is not None
        else None,
        http_options=types.HttpOptions(timeout=max(1, int(timeout_s * 1000))) if timeout_s else None,
    )


def read_usage(response: Any) -> Usage | None:
    """The tokens a reply was billed for (``usageMetadata``), where the API reported them."""
    metadata = getattr(response, "usage_metadata", None)
    if metadata is None:
        return None
    return Usage(
        prompt_tokens=getattr(metadata, "prompt_token_count", None) or 0,
        output_tokens=getattr(metadata, "candidates_token_count", None) or 0,
        thinking_tokens=getattr(metadata, "thoughts_token_count", None) or 0,
    )
