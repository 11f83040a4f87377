"""The deployment files: KubeRay manifests, the key kept secret, the Grafana dashboard."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pipeline.metrics import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "karaoke-pipeline.json"
# what Prometheus shows for a Ray metric: the ray_ prefix, and _total / _bucket / _count / _sum suffixes
EXPORTED = re.compile(r"^ray_(karaoke_[a-z_]+?)(?:_total|_bucket|_count|_sum)?$")
PROMQL_WORDS = {
    "sum",
    "rate",
    "increase",
    "by",
    "le",
    "histogram_quantile",
    "clamp_min",
    "status",
    "state",
    "kind",
    "quota",
    "error_code",
    "priority",
}


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_panel_query_names_only_exported_metrics() -> None:
    names = set()
    for expr in queries():
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r'"[^"]*"|\[[^\]]*\]', "", expr)):
            if word not in PROMQL_WORDS:
                match = EXPORTED.match(word)
                assert match is not None, f"{word!r} in {expr!r} is not one of our metrics"
                assert match[1] in METRIC_NAMES, f"{match[1]} is not exported by pipeline.metrics"
                names.add(match[1])
    assert names == set(METRIC_NAMES), f"metrics without a panel: {set(METRIC_NAMES) - names}"


def test_the_dashboard_shows_what_operators_watch() -> None:
    titles = " ".join(panel["title"].lower() for panel in json.loads(DASHBOARD.read_text())["panels"])
    for topic in ("throughput", "failures", "latency", "utilisation", "quota", "cost"):
        assert topic in titles


# --- KubeRay manifests ----------------------------------------------------------------------

CRDS = ROOT.parent / "shared" / "kuberay" / "crds"
KUBERAY = ROOT / "deploy" / "kuberay"


def strict(schema: Any) -> Any:
    """The schema as `kubectl --validate=strict` reads it: unknown fields are errors, not pruned."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        if schema.get("x-kubernetes-int-or-string"):
            schema.pop("type", None)
            schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_schema(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load((CRDS / f"ray.io_{kind.lower()}s.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = strict(version["schema"]["openAPIV3Schema"])
    return schema


def validate(manifest: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(crd_schema(manifest["kind"]))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]


@pytest.mark.parametrize("name", ["rayservice.yaml", "rayjob.yaml"])
def test_each_manifest_fits_its_kuberay_crd(name: str) -> None:
    manifest = yaml.safe_load((KUBERAY / name).read_text())
    assert manifest["apiVersion"] == "ray.io/v1"
    assert validate(manifest) == []


def test_a_typo_in_a_manifest_fails_validation() -> None:
    manifest = yaml.safe_load((KUBERAY / "rayservice.yaml").read_text())
    manifest["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplica"] = 4  # not maxReplicas
    assert any("maxReplica" in error for error in validate(manifest))
    manifest = yaml.safe_load((KUBERAY / "rayjob.yaml").read_text())
    manifest["spec"]["shutdownAfterJobFinishes"] = "yes"
    assert validate(manifest) != []


def test_the_rayservice_runs_the_same_serve_application_as_serve_config() -> None:
    from ray.serve.schema import ServeDeploySchema

    manifest = yaml.safe_load((KUBERAY / "rayservice.yaml").read_text())
    embedded = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    ServeDeploySchema.parse_obj(embedded)  # Ray Serve's own schema: a bad key or value raises
    local = yaml.safe_load((ROOT / "serve" / "config.yaml").read_text())
    assert embedded["applications"] == local["applications"]
    with pytest.raises(Exception, match="deployments"):
        ServeDeploySchema.parse_obj(
            {**embedded, "applications": [{**embedded["applications"][0], "deployments": 3}]}
        )


# --- the key stays secret -------------------------------------------------------------------

KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
LITERAL_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{35}")  # the shape of a Google API key
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "cluster.yaml",
    ROOT / "serve" / "config.yaml",
    *sorted((ROOT / "deploy").rglob("*.yaml")),
    *sorted((ROOT / "deploy").rglob("Dockerfile")),
]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_document_carries_a_literal_key_or_puts_it_in_a_runtime_env(path: Path) -> None:
    text = path.read_text()
    assert not LITERAL_KEY.search(text), f"{path.name} holds what looks like an API key"
    for line in text.splitlines():
        if re.search(r"runtime[-_]env|runtimeEnv", line, re.IGNORECASE):
            assert not any(variable in line for variable in KEY_VARIABLES), f"key in a runtime env: {line!r}"
    if path.suffix == ".yaml":
        for document in yaml.safe_load_all(text):
            for where, node in walk(document):
                if isinstance(node, dict) and node.get("name") in KEY_VARIABLES:
                    assert "value" not in node, f"{where}: the key is written out, not read from a Secret"
                    assert "secretKeyRef" in node.get("valueFrom", {}), f"{where}: not from a Secret"
                if "runtimeEnv" in where and isinstance(node, str):
                    assert not any(variable in node for variable in KEY_VARIABLES)


def test_the_secret_check_catches_a_key_in_a_runtime_env(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec:\n  runtimeEnvYAML: 'env_vars: {GEMINI_API_KEY: abc}'\n")
    with pytest.raises(AssertionError, match="runtime env"):
        test_no_document_carries_a_literal_key_or_puts_it_in_a_runtime_env(bad)
    literal = tmp_path / "literal.yaml"
    literal.write_text("env:\n  - name: GEMINI_API_KEY\n    value: AIza" + "x" * 35 + "\n")
    with pytest.raises(AssertionError):
        test_no_document_carries_a_literal_key_or_puts_it_in_a_runtime_env(literal)
