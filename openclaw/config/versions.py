"""OpenClaw version comparison (SemVer plus OpenClaw's correction releases ``X.Y.Z-N``)."""

from __future__ import annotations

import re

__all__ = ["compare_versions", "parse_version", "should_warn_on_touched_version"]

_VERSION = re.compile(r"^[vV=]?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")
_LEGACY_BETA = re.compile(r"^([vV]?\d+\.\d+\.\d+)\.beta(?:\.([0-9A-Za-z.-]+))?$")

Version = tuple[int, int, int, tuple[str, ...], tuple[str, ...]]


def parse_version(raw: str | None) -> Version | None:
    """``(major, minor, patch, prerelease, build)``; legacy ``X.Y.Z.beta.N`` is accepted."""
    if not raw:
        return None
    text = raw.strip()
    legacy = _LEGACY_BETA.match(text)
    if legacy:
        text = f"{legacy.group(1)}-beta" + (f".{legacy.group(2)}" if legacy.group(2) else "")
    match = _VERSION.match(text)
    if not match:
        return None
    pre = tuple(match.group(4).split(".")) if match.group(4) else ()
    build = tuple(match.group(5).split(".")) if match.group(5) else ()
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), pre, build


def _is_correction(version: Version) -> bool:
    return len(version[3]) == 1 and version[3][0].isdigit()


def _compare_identifiers(left: str, right: str) -> int:
    if left.isdigit() and right.isdigit():
        return (int(left) > int(right)) - (int(left) < int(right))
    if left.isdigit():
        return -1
    if right.isdigit():
        return 1
    return (left > right) - (left < right)


def _compare_lists(left: tuple[str, ...], right: tuple[str, ...], *, empty_is_greater: bool) -> int:
    if not left and not right:
        return 0
    if not left:
        return 1 if empty_is_greater else -1
    if not right:
        return -1 if empty_is_greater else 1
    for a, b in zip(left, right, strict=False):
        result = _compare_identifiers(a, b)
        if result:
            return result
    return (len(left) > len(right)) - (len(left) < len(right))


def _comparable(version: Version) -> Version:
    # A correction release X.Y.Z-N sorts after X.Y.Z (as build metadata N).
    if _is_correction(version):
        return version[0], version[1], version[2], (), version[3]
    return version


def compare_versions(left: str, right: str) -> int | None:
    """-1, 0 or 1; None when either does not parse."""
    a, b = parse_version(left), parse_version(right)
    if a is None or b is None:
        return None
    return _compare(a, b)


def _compare(a: Version, b: Version) -> int:
    a, b = _comparable(a), _comparable(b)
    main = (a[:3] > b[:3]) - (a[:3] < b[:3])
    if main:
        return main
    pre = _compare_lists(a[3], b[3], empty_is_greater=True)
    if pre:
        return pre
    return _compare_lists(a[4], b[4], empty_is_greater=False)


def should_warn_on_touched_version(current: str, touched: str) -> bool:
    """True when the config was last written by a newer OpenClaw than ``current``."""
    a, b = parse_version(current), parse_version(touched)
    if a is None or b is None:
        return False
    if a[:3] == b[:3] and (not b[3] or _is_correction(b)):
        return False
    return _compare(a, b) < 0
