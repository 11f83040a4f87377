"""The ``serve`` subcommand's arguments (running it is covered by the Serve tests' app)."""

from __future__ import annotations

import argparse

import pytest

from serve.cli import add_serve_command


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="karaoke-pipeline")
    add_serve_command(root.add_subparsers(dest="command", required=True))
    return root


def test_serve_defaults_to_loopback_port_8000() -> None:
    args = parser().parse_args(["serve"])
    assert (args.command, args.host, args.port) == ("serve", "127.0.0.1", 8000)
    assert parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000"]).port == 9000
    assert parser().parse_args(["serve"]).replicas == 1
    assert parser().parse_args(["serve", "--replicas", "2"]).replicas == 2


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_bad_ports_are_usage_errors(port: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["serve", "--port", port])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("replicas", ["0", "9", "two"])
def test_bad_replica_counts_are_usage_errors(replicas: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["serve", "--replicas", replicas])
    assert exit_info.value.code == 2
