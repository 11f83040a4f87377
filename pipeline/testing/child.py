"""A child process whose output is collected line by line (servers started by tests and benchmarks)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path


class Child:
    """``command`` in a child process, stdout and stderr kept in ``lines``; stopped with SIGINT
    (then killed) by ``stop``."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, prefix: str) -> bool:
        return any(line.startswith(prefix) for line in self.lines)

    def wait_for_line(self, prefix: str, timeout_s: float) -> None:
        """Wait until a line starts with ``prefix``; RuntimeError if the child exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while not self.said(prefix):
            if self.process.poll() is not None:
                raise RuntimeError("child exited:\n" + "\n".join(self.lines[-20:]))
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {prefix!r} within {timeout_s:g} s:\n" + "\n".join(self.lines[-20:]))
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self._reader.join(10)
