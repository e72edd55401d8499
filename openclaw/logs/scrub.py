"""Keep configured secrets out of every log line."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Values too short to be secrets would mangle ordinary words if scrubbed.
_MIN_SECRET_LENGTH = 4

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


class SecretScrubber:
    """Replaces known secret values (and bearer credentials) in text with a mask."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        values = sorted(
            {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True
        )
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub("***", text)
        if "earer" in text:
            text = _BEARER.sub(r"\1***", text)
        return text
