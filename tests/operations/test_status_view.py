"""The status text from any answer a process could send: never an exception, drops
summed once per process, and a backend that cannot list its queues says so."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from telephonist.cli.status_view import NOT_REPORTED, merge_layer, render

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=20,
)  # fmt: skip
parts = st.lists(
    st.dictionaries(
        st.sampled_from(["kind", "id", "pid", "hostname", "layer", "interfaces", "dispatch",
                         "affinity", "counters", "channels"]),
        json_values | st.sampled_from(["host", "worker"]),
    ),
    max_size=4,
)  # fmt: skip


layer_keys = st.sampled_from(["backend", "capacity", "depths", "groups", "dropped", "traffic"])


@given(parts, st.none() | st.dictionaries(layer_keys | st.text(max_size=8), json_values,
                                          max_size=4))  # fmt: skip
def test_any_answer_renders(found: list[dict[str, Any]], layer: dict[str, Any] | None) -> None:
    merged = merge_layer(layer, found) if layer is not None else None
    assert isinstance(render(found, merged), str)


def test_drops_are_summed_once_per_process() -> None:
    shared = {"dropped": {"expired": 3}, "traffic": {"sent": 2}}
    found = [
        {"kind": "host", "pid": 1, "hostname": "a", "layer": shared},
        {"kind": "worker", "pid": 1, "hostname": "a", "layer": shared},  # all-in-one
        {"kind": "worker", "pid": 2, "hostname": "a", "layer": {"dropped": {"expired": 1}}},
    ]
    merged = merge_layer({"backend": "x"}, found)
    assert merged["dropped"] == {"expired": 4}
    assert merged["processes_counted"] == 2
    text = render([], merged)
    assert f"  queue depths: {NOT_REPORTED}" in text
    assert "  dropped:      expired=4  (summed over 2 processes)" in text
