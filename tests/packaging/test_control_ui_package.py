"""The Control UI as package data: the committed build is current, the vendored library matches
its record, every module the UI imports is shipped, and a wheel built from the repository
carries it all (and, once the gateway serves it, serves it with nothing else installed)."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.support import REPO_ROOT, free_port, http_get, isolated_env

SOURCE = Path(REPO_ROOT) / "control-ui"
BUILT = Path(REPO_ROOT) / "openclaw" / "control_ui"
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")
UI_MARKER = b'name="generator" content="openclaw-twisted control ui"'


def relative_imports(path: Path) -> list[Path]:
    return [(path.parent / spec).resolve() for spec in IMPORT.findall(path.read_text("utf-8"))]


class ControlUiBuildTests(SynchronousTestCase):
    def test_committed_build_is_current(self) -> None:
        done = subprocess.run(
            [sys.executable, os.path.join(REPO_ROOT, "scripts", "build-control-ui.py"), "--check"],
            capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_vendored_lit_html_matches_its_record(self) -> None:
        vendor = SOURCE / "vendor" / "lit-html"
        record = json.loads((vendor / "VENDOR.json").read_text("utf-8"))
        self.assertEqual(record["license"], "BSD-3-Clause")
        self.assertTrue((vendor / "LICENSE").is_file())
        for name, digest in record["files"].items():
            self.assertEqual(hashlib.sha256((vendor / name).read_bytes()).hexdigest(), digest, name)

    def test_every_imported_module_is_shipped(self) -> None:
        index = (BUILT / "index.html").read_text("utf-8")
        entries = re.findall(r'(?:src|href)="\./([^"]+)"', index)
        self.assertIn("favicon.svg", entries)
        self.assertTrue(any(e.endswith("/main.js") for e in entries), index)
        seen: set[Path] = set()
        todo = [(BUILT / e).resolve() for e in entries]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            self.assertTrue(path.is_file(), f"{path} is referenced but not shipped")
            if path.suffix == ".js":
                todo.extend(relative_imports(path))
        modules = {p for p in seen if p.suffix == ".js"}
        self.assertGreater(len(modules), 20)

    def test_no_inline_script_or_style(self) -> None:
        """The CSP has no 'unsafe-inline': no inline <script>, style="" or on* handlers."""
        index = (BUILT / "index.html").read_text("utf-8")
        self.assertNotRegex(index, r"<script(?![^>]*\bsrc=)[^>]*>")
        for path in [BUILT / "index.html", *SOURCE.glob("**/*.js")]:
            if "vendor" in path.parts:
                continue
            text = path.read_text("utf-8")
            self.assertNotRegex(text, r"\bstyle=[\"'$]", f"{path}: a style attribute")
            self.assertNotRegex(text, r"\son[a-z]+=[\"']", f"{path}: an inline event handler")


class ControlUiWheelTests(SynchronousTestCase):
    """A wheel built from the repository ships (and serves) the UI, nothing else installed."""

    def setUp(self) -> None:
        work = os.path.abspath(self.mktemp())
        wheels, self.target = os.path.join(work, "wheels"), os.path.join(work, "site")
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--quiet", "-w", wheels, REPO_ROOT],
            check=True, capture_output=True,
        )
        (self.wheel,) = glob.glob(os.path.join(wheels, "openclaw_twisted-*.whl"))
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
             self.target, self.wheel],
            check=True, capture_output=True,
        )
        # The installed gateway, run outside the source tree.
        env = isolated_env(os.path.join(work, "state"))
        env["PYTHONPATH"] = self.target
        self.port = free_port()
        self.gateway = subprocess.Popen(
            [sys.executable, "-m", "openclaw", "gateway", "--allow-unconfigured", "--port",
             str(self.port), "--token", "wheel-token"],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_gateway)
        self.index = self.wait_for_index()
        if UI_MARKER not in self.index:
            reason = "until the protocol branch: the gateway does not serve the UI at /"
            if "pytest" in sys.modules and os.environ.get("PYTEST_CURRENT_TEST"):
                import pytest

                pytest.xfail(reason)
            self.todo = reason

    def stop_gateway(self) -> None:
        self.gateway.terminate()
        try:
            self.gateway.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.gateway.kill()
            self.gateway.wait()

    def wait_for_index(self) -> bytes:
        """GET / once the gateway is ready (its /readyz says so)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.gateway.poll() is not None:
                raise AssertionError(f"the installed gateway exited {self.gateway.returncode}")
            try:
                if http_get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)[0] == 200:
                    return http_get(f"http://127.0.0.1:{self.port}/", timeout=5)[2]
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("the installed gateway did not become ready")

    def test_installed_wheel_ships_and_serves_the_ui(self) -> None:
        names = set(zipfile.ZipFile(self.wheel).namelist())
        shipped = {p.relative_to(REPO_ROOT).as_posix() for p in BUILT.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        self.assertEqual(shipped - names, set(), "UI files missing from the wheel")
        stale = {n for n in names if n.startswith("openclaw/control_ui/")} - shipped
        self.assertEqual(stale, set(), "files of older UI builds in the wheel")
        self.assertIn(UI_MARKER, self.index)
        asset = re.search(rb'src="([^"]*/assets/[^"]+/main\.js)"', self.index)
        self.assertIsNotNone(asset)
        assert asset is not None
        status, _, body = http_get(f"http://127.0.0.1:{self.port}{asset.group(1).decode()}")
        self.assertEqual(status, 200)
        self.assertIn(b"GatewayClient", body)
