"""The deployment files: the Grafana dashboard reads only metrics the project exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
