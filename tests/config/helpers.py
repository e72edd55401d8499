"""Shared helpers for the config tests (plain trial test cases, no pytest fixtures)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import ConfigError, ConfigSnapshot, load_config


class ConfigTestCase(SynchronousTestCase):
    """A temp config dir per test plus load helpers."""

    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        self.home = os.path.join(self.base, "home")
        self.config_dir = os.path.join(self.home, ".openclaw")
        os.makedirs(self.config_dir)
        self.config_path = os.path.join(self.config_dir, "openclaw.json")

    def write(self, name: str, content: str | Mapping[str, Any] | list[Any]) -> str:
        """Write ``content`` (text, or JSON for objects) at ``name`` under the config dir."""
        path = name if os.path.isabs(name) else os.path.join(self.config_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def load(
        self,
        content: str | Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ConfigSnapshot:
        if content is not None:
            self.write(self.config_path, content)
        return load_config(self.config_path, env=dict(env or {}), home=self.home)

    def load_error(
        self,
        content: str | Mapping[str, Any] | None,
        env: Mapping[str, str] | None = None,
        error: type[ConfigError] = ConfigError,
    ) -> ConfigError:
        with self.assertRaises(error) as raised:
            self.load(content, env)
        return raised.exception

    def issue_map(self, failure: ConfigError) -> dict[str, str]:
        return {issue.path: issue.message for issue in failure.issues}
