"""cluster.yaml is checked by Ray's own schema, so a typo fails CI instead of `ray up`."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import ValidationError
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[1] / "cluster.yaml"


def load() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(CLUSTER_YAML.read_text())
    return config


def test_cluster_yaml_passes_rays_schema() -> None:
    config = prepare_config(load())
    validate_config(config)
    assert config["head_node_type"] in config["available_node_types"]
    assert any("karaoke-pipeline" in command for command in config["setup_commands"])


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("idle_timout_minutes",), 5),
        (("available_node_types", "worker", "min_worker"), 1),
        (("max_workers",), "ten"),
    ],
)
def test_a_typo_or_a_wrong_type_is_rejected(path: tuple[str, ...], value: object) -> None:
    config = copy.deepcopy(load())
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        validate_config(prepare_config(config))


def test_no_secret_is_in_the_file() -> None:
    text = CLUSTER_YAML.read_text()
    assert not re.search(r"AIza[0-9A-Za-z_-]{20,}", text), "a Google API key"
    # only ever read from a secret store at start-up ("$(aws secretsmanager ...)"), never written out
    assert not re.search(r"(GEMINI|GOOGLE)_API_KEY\s*[:=]\s*(?!\"?\$\(aws secretsmanager)\S", text)
    assert "secretsmanager get-secret-value" in text
    assert not re.search(r"AKIA[0-9A-Z]{16}", text), "an AWS access key"
