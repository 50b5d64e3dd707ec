"""The examples in docs/layers.md are valid as written: each TOML block loads through the
real configuration model and builds a layer of the backend it names, and the Python
blocks run (in the test session the project's layer is the Django test settings' one,
in-memory)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from telephonist.config import TelephonistConfig
from telephonist.core.layers import make_channel_layer

DOC = Path(__file__).resolve().parents[2] / "docs" / "layers.md"
TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", DOC.read_text(), re.S)
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_has_examples() -> None:
    assert len(TOML_BLOCKS) >= 3
    assert len(PYTHON_BLOCKS) >= 2


@pytest.mark.parametrize("block", PYTHON_BLOCKS)
def test_python_example_runs(block: str) -> None:
    namespace: dict[str, object] = {}
    exec(compile(block, str(DOC), "exec"), namespace)  # a Redis layer connects lazily


@pytest.mark.parametrize("block", TOML_BLOCKS)
async def test_toml_example_builds_a_layer(block: str) -> None:
    config = TelephonistConfig.model_validate(tomllib.loads(block))
    layer = make_channel_layer(config.layer.as_layer_config())  # builds; connects lazily
    assert type(layer).__name__ == "RedisChannelLayer"
    await layer.close()
