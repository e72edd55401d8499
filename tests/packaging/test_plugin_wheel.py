"""The twistd plugin is discoverable from an installed (non-editable) wheel."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile

from twisted.trial.unittest import SynchronousTestCase

from tests.support import REPO_ROOT


class WheelPluginTests(SynchronousTestCase):
    def test_installed_wheel_exposes_twistd_plugin(self) -> None:
        work = os.path.abspath(self.mktemp())
        wheels, target = os.path.join(work, "wheels"), os.path.join(work, "site")
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--quiet", "-w", wheels, REPO_ROOT],
            check=True, capture_output=True,
        )
        (wheel,) = glob.glob(os.path.join(wheels, "openclaw_twisted-*.whl"))
        names = zipfile.ZipFile(wheel).namelist()
        self.assertIn("twisted/plugins/openclaw_gateway.py", names)
        self.assertNotIn("twisted/plugins/__init__.py", names)
        self.assertNotIn("twisted/__init__.py", names)
        self.assertIn("openclaw/config/upstream_keys.json.gz", names)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", target,
             wheel],
            check=True, capture_output=True,
        )
        # Run outside the source tree so only the installed copy can be found.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = target
        regenerate = subprocess.run(
            [sys.executable, "-c",
             "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"],
            cwd=work, env=env, capture_output=True, text=True,
        )
        self.assertEqual(regenerate.returncode, 0, regenerate.stderr)
        twistd = subprocess.run(
            [sys.executable, "-c", "import sys; from twisted.scripts.twistd import run; "
             "sys.argv=['twistd','--help']; run()"],
            cwd=work, env=env, capture_output=True, text=True,
        )
        self.assertIn("openclaw", twistd.stdout)
        self.assertIn("Run the OpenClaw gateway", twistd.stdout)
        which = subprocess.run(
            [sys.executable, "-c", "import openclaw, twisted.plugins.openclaw_gateway as p; "
             "print(openclaw.__file__); print(p.__file__)"],
            cwd=work, env=env, capture_output=True, text=True,
        )
        for line in which.stdout.splitlines():
            self.assertTrue(line.startswith(target), which.stdout)
