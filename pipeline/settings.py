"""Process-wide settings: one pydantic-settings class, env prefix ``KARAOKE_``.

Per-job options are pydantic models passed in; only knobs that belong to the
process live here. Values a worker needs on another node are passed to it
explicitly, never read from that node's environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    gemini_rpm: int = Field(
        default=1000,
        ge=1,
        description="requests per minute for the whole cluster; 1000 fits a paid tier-1 Flash project, "
        "the free tier allows about 10",
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
