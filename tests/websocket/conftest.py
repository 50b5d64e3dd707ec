"""Same loop rule as tests/http (Twisted's reactor is bound to one loop per process)."""

from tests.http.conftest import pytest_collection_modifyitems

__all__ = ["pytest_collection_modifyitems"]
