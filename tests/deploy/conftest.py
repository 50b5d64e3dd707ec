"""Fixtures of the deployment tests: a short temporary directory standing for the
machines' filesystems (Unix socket paths must stay under ~100 bytes), and the
processes of the test, killed at the end if still running."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import Procs


@pytest.fixture
def machines_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="tpd-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    with Procs.running(tmp_path / "logs") as running:
        yield running
