"""Every folder of Python modules under openclaw/ is a regular package.

A folder without ``__init__.py`` imports fine from a checkout (a namespace package) but
``find_packages()`` leaves it out of the wheel, so ``pip install .`` ships a gateway that
cannot start (``openclaw.auth`` once went missing that way).
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.support import REPO_ROOT

PACKAGE = os.path.join(REPO_ROOT, "openclaw")


class PackageTreeTests(SynchronousTestCase):
    def test_every_module_folder_has_an_init(self) -> None:
        missing = []
        for folder, dirs, files in os.walk(PACKAGE):
            dirs[:] = [d for d in dirs if d != "__pycache__" and d != "control_ui"]
            if any(name.endswith(".py") for name in files) and "__init__.py" not in files:
                missing.append(os.path.relpath(folder, REPO_ROOT))
        self.assertEqual(missing, [])
