"""docs/grafana-dashboard.json queries only metrics docs/operations.md documents."""

from __future__ import annotations

import json
import re

from tests.operations import page

SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def test_the_dashboard_uses_documented_metrics_only() -> None:
    dashboard = json.loads((page.ROOT / "docs" / "grafana-dashboard.json").read_text())
    documented = set(page.documented_metrics())
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in re.findall(r"telephonist_[a-z_]+", target["expr"]):
                for suffix in SUFFIXES:
                    if name.endswith(suffix) and name.removesuffix(suffix) in documented:
                        name = name.removesuffix(suffix)
                used.add(name)
    assert used - documented == set()
    assert len(used) >= 10
