"""Process-wide settings: one pydantic-settings class, env prefix ``KARAOKE_``.

Per-job options are pydantic models passed in; only knobs that belong to the
process live here. Values a worker needs on another node are passed to it
explicitly, never read from that node's environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelPrice(BaseModel):
    """US dollars per million tokens of one model (thinking tokens are billed as output)."""

    input: float = Field(ge=0, description="per million input (prompt) tokens")
    output: float = Field(ge=0, description="per million output and thinking tokens")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KARAOKE_", extra="ignore")

    backend: Literal["local", "gemini"] | None = Field(
        default=None, description="default backend; gemini when a key is set, else local"
    )
    gemini_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        description="Gemini API key; never logged",
    )
    gemini_model: str = Field(default="gemini-2.5-flash", description="Gemini model name")
    gemini_base_url: str | None = Field(default=None, description="API base URL override")
    gemini_tier: Literal["free", "tier1", "tier2", "tier3"] | None = Field(
        default=None,
        description="hold the budget to this tier's published quotas; None: learn the limits from 429s",
    )
    gemini_rpm: int | None = Field(
        default=None, ge=1, description="requests per minute for the whole cluster; None: the tier's"
    )
    gemini_tpm: int | None = Field(
        default=None, ge=1, description="input tokens per minute for the whole cluster; None: the tier's"
    )
    gemini_rpd: int | None = Field(
        default=None, ge=1, description="requests per day for the whole cluster; None: the tier's"
    )
    gemini_rate_window_s: float = Field(
        default=60.0, gt=0, description="the RPM/TPM window; shorter only to test against the fake server"
    )
    gemini_prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description='JSON, model prefix -> {"input": $/M tokens, "output": $/M tokens}, over the defaults',
    )
    cache_max_entries: int = Field(
        default=100_000, ge=1, description="results the cache keeps; the least recently used go first"
    )
    similar_cache: bool = Field(
        default=True, description="answer near-copies of a cached image (resized, re-compressed, cropped) too"
    )
    admin_token: SecretStr | None = Field(default=None, description="bearer token for admin endpoints")
    data_dir: Path = Field(default=Path(".karaoke"), description="cache and job results")
    ray_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RAY_ADDRESS", "KARAOKE_RAY_ADDRESS"),
        description="an existing Ray cluster; unset means a local Ray",
    )
    max_image_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="per-image size limit")
    max_image_pixels: int = Field(default=40_000_000, ge=1, description="decompression-bomb limit")
    jobs_uri: str | None = Field(
        default=None, description="job records for every node: a path or fsspec URI; None: <data dir>/jobs"
    )
    rate_limit_per_minute: float = Field(
        default=60.0, ge=0, description="public HTTP requests per client per minute, per replica (0: off)"
    )
    max_queued_images: int = Field(
        default=200, ge=1, description="images one Serve replica holds (running or waiting) before 503"
    )
    line_roles: bool = Field(
        default=True, description="local backend: the line-role model vets each show's venue line"
    )
    autoscale: bool = Field(
        default=True,
        description="worker fleets follow the load, from 1 up to their --workers; false: pinned at --workers",
    )
    fleet_idle_s: float = Field(
        default=30.0, ge=0, description="a worker of an autoscaled fleet idle this long is released"
    )

    def default_backend(self) -> str:
        """The backend to use when none is asked for."""
        if self.backend is not None:
            return self.backend
        return "gemini" if self.gemini_api_key is not None else "local"


def describe_settings_error(error: ValidationError) -> str:
    """One line per bad environment variable, named as the user set it."""
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        variable = name if name.isupper() else f"KARAOKE_{name.upper()}"
        lines.append(f"{variable}: {problem['msg']}")
    return "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
