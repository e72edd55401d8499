"""OpenClaw Gateway re-implemented on Twisted."""

__version__ = "2026.9.6"
"""The OpenClaw release whose gateway protocol and behaviour we implement."""

__all__ = ["__version__"]
