"""pytest: every test here carries the ``reliability`` marker (``-m "not reliability"`` skips
the fault suite; trial ignores this file)."""

from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "reliability: the fault suite (real gateway processes)")


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "tests/reliability/" in str(getattr(item, "path", item.fspath)):
            item.add_marker("reliability")
