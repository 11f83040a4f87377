"""A Batch API driver in a process of its own, for tests that kill it mid-create."""

from __future__ import annotations

import argparse

from pydantic import SecretStr

from pipeline.backends.gemini.backend import GeminiOptions
from pipeline.batch import BatchOptions
from pipeline.batch_api import BatchApiOptions, run_batch_api


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--per-job", type=int, default=10)
    args = parser.parse_args()
    backend = GeminiOptions(api_key=SecretStr("test-key"), base_url=args.base_url, attempt_timeout_s=600)
    api = BatchApiOptions(max_requests_per_job=args.per_job, poll_initial_s=0.05, poll_max_s=0.2)
    run_batch_api(BatchOptions(input=args.input, output=args.output), api, backend)


if __name__ == "__main__":
    main()
