"""User preferences: ``users.prefs.get`` / ``users.prefs.set`` and ``users.prefs.changed``;
``themes.list`` (the built-in Control UI themes and the device's choice from its preferences).

Small JSON values keyed 1-256 characters (the Control UI keeps its theme, accent and fonts
here), stored per **paired device** (the profile of a browser that signed in with a device
identity) in ``<state>/users/prefs.json``. A connection without a device identity (a token-only
CLI client) has no durable identity: ``{status: "no_durable_identity"}``, as upstream.

``set`` takes ``entries`` (``null`` removes a key) and optional ``expectedEntries`` for
compare-and-set (a key whose current value differs, absent counting as ``null``, answers
``{status: "conflict"}`` and changes nothing). Writes go through the thread pool (atomic
rename, mode 0600) one after another; the store answers from memory once loaded. After a
change every connection of that device gets ``users.prefs.changed {profileId, keys}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from openclaw.atomic_files import atomic_write_bytes
from openclaw.auth.scopes import READ, WRITE
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.context import GatewayContext
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec

PREFS_EVENT: Final = "users.prefs.changed"
# upstream's built-in Control UI themes (``themes.list``; each in light and dark)
BUILTIN_THEMES: Final = tuple({"id": id_, "name": name, "description": text, "source": "builtin",
                               "modes": ["light", "dark"]} for id_, name, text in (
    ("claw", "Claw", "Signature coral red and teal on charcoal or pale surfaces, with Instrument "
     "Sans throughout. A balanced everyday workspace."),
    ("knot", "Knot", "Crimson accents on true black or clean white, with Geist typography. "
     "Sharp, minimal, and high contrast."),
    ("dash", "Dash", "Toasted caramel on deep cocoa or warm cream, with DM Sans controls and "
     "Fraunces serif chat. Warm and bookish."),
    ("absolutely", "Absolutely", "Terracotta clay on warm graphite or soft cream, with Space "
     "Grotesk controls and Lora serif chat. Quiet editorial character."),
    ("tide", "Tide", "Steel cyan on cool slate or pale blue-gray, with IBM Plex Sans throughout. "
     "Calm, technical, and understated."),
    ("beacon", "Beacon", "High-visibility amber on black or white, bold focus rings, and "
     "Atkinson Hyperlegible typography. Designed for maximum readability."),
    ("phosphor", "Phosphor", "Luminous green on green-tinted black or pale green, with "
     "JetBrains Mono throughout. A classic green terminal atmosphere."),
    ("crt", "CRT", "White phosphor and amber on tube black, with a light counterpart, "
     "JetBrains Mono, and nearly square corners. A retro computer console."),
    ("manuscript", "Manuscript", "Lapis blue and gold on aged paper, with a dark reading-room "
     "variant and Lora serif throughout. A quiet illuminated manuscript."),
    ("rose", "Rosé", "Dried rose and gold on deep plum-gray or soft rose-tinted cream, with DM "
     "Sans. Gentle, muted, and warm."),
    ("miami", "Miami", "Hot magenta and cyan on violet-black or pale lavender, with Space "
     "Grotesk. Bright neon energy and a synthwave character.")))
THEME_MODES: Final = ("system", "light", "dark")
NO_IDENTITY: Final = {"status": "no_durable_identity"}

Profiles = dict[str, dict[str, Any]]


def _read(path: str) -> Profiles:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}
    profiles = document.get("profiles") if isinstance(document, dict) else None
    if not isinstance(profiles, dict):
        return {}
    return {str(k): dict(v) for k, v in profiles.items() if isinstance(v, dict)}


def _write(path: str, profiles: Profiles) -> None:
    data = json.dumps({"version": 1, "profiles": profiles}, ensure_ascii=False,
                      indent=2).encode("utf-8") + b"\n"
    atomic_write_bytes(path, data)


class PrefsStore:
    """The preferences file: loaded once, rewritten whole after each change, in order."""

    def __init__(self, context: GatewayContext) -> None:
        self.context = context
        self.path = os.path.join(str(context.state_dir), "users", "prefs.json")
        self._profiles: Profiles | None = None
        self._loading: Deferred[Profiles] | None = None
        self._writes: Deferred[None] | None = None

    async def profiles(self) -> Profiles:
        if self._profiles is not None:
            return self._profiles
        if self._loading is None:
            self._loading = self.context.run_blocking(_read, self.path)
        loading = self._loading
        loaded: Profiles = await _shared(loading)
        if self._profiles is None:
            self._profiles = loaded
        return self._profiles

    async def get(self, profile: str, keys: list[str] | None) -> dict[str, Any]:
        stored = (await self.profiles()).get(profile, {})
        if keys is None:
            return dict(stored)
        return {key: stored[key] for key in keys if key in stored}

    async def set(self, profile: str, entries: Mapping[str, Any],
                  expected: Mapping[str, Any] | None) -> list[str] | None:
        """Apply ``entries``; None on a compare-and-set conflict, else the changed keys."""
        profiles = await self.profiles()
        current = profiles.setdefault(profile, {})
        for key, value in (expected or {}).items():
            if current.get(key) != value:
                return None
        changed = []
        for key, value in entries.items():
            if value is None:
                if key in current:
                    del current[key]
                    changed.append(key)
            elif current.get(key) != value:
                current[key] = value
                changed.append(key)
        if not current:
            profiles.pop(profile, None)
        if changed:
            await self._save(profiles)
        return changed

    async def _save(self, profiles: Profiles) -> None:
        snapshot = json.loads(json.dumps(profiles))
        previous = self._writes
        mine: Deferred[None] = Deferred()
        self._writes = mine
        try:
            if previous is not None:
                await _shared(previous)
            await self.context.run_blocking(_write, self.path, snapshot)
        finally:
            mine.callback(None)
            if self._writes is mine:
                self._writes = None


def _shared(deferred: Deferred[Any]) -> Deferred[Any]:
    """A Deferred firing with ``deferred``'s result without consuming it (many waiters)."""
    out: Deferred[Any] = Deferred()

    def passthrough(result: Any) -> Any:
        if isinstance(result, Failure):
            out.errback(result)
        else:
            out.callback(result)
        return result

    deferred.addBoth(passthrough)
    return out


def make_prefs_methods(context: GatewayContext) -> tuple[MethodSpec, ...]:
    store = PrefsStore(context)
    context.events.register_event(PREFS_EVENT, (READ,))

    async def prefs_get(call: MethodCall) -> dict[str, Any]:
        profile = call.session.device_id
        if not profile:
            return dict(NO_IDENTITY)
        keys = call.param_map.get("keys")
        return {"status": "ok", "entries": await store.get(profile, keys)}

    async def prefs_set(call: MethodCall) -> dict[str, Any]:
        profile = call.session.device_id
        if not profile:
            return dict(NO_IDENTITY)
        params = call.param_map
        changed = await store.set(profile, params["entries"], params.get("expectedEntries"))
        if changed is None:
            return {"status": "conflict"}
        if changed:
            targets = [r.conn_id for r in context.events.recipients()
                       if getattr(getattr(r, "session", None), "device_id", None) == profile]
            context.events.broadcast(PREFS_EVENT, {"profileId": profile, "keys": changed},
                                     targets=targets)
        return {"status": "ok"}

    async def themes_list(call: MethodCall) -> dict[str, Any]:
        """The built-in themes and the caller's choice (``ui.theme`` / ``ui.themeMode`` of its
        device's preferences; the gateway default ``claw``/``system`` otherwise)."""
        profile = call.session.device_id
        entries = await store.get(profile, ["ui.theme", "ui.themeMode"]) if profile else {}
        ids = [theme["id"] for theme in BUILTIN_THEMES]
        chosen = entries.get("ui.theme")
        mode = entries.get("ui.themeMode") if entries.get("ui.themeMode") in THEME_MODES \
            else None
        theme_id = chosen if chosen in ids else "claw"
        current: dict[str, Any] = {"id": theme_id, "mode": mode or "system"}
        if mode in ("light", "dark"):
            current["effectiveMode"] = mode
        current.update({"scope": "profile" if profile else "gateway", "overrides": {
            **({"id": chosen} if isinstance(chosen, str) else {}),
            **({"mode": mode} if mode else {})}})
        if isinstance(chosen, str) and chosen not in ids:
            current["requestedId"] = chosen
        return {"current": current, "theme": dict(BUILTIN_THEMES[ids.index(theme_id)]),
                "themes": [dict(theme) for theme in BUILTIN_THEMES]}

    return (
        MethodSpec("themes.list", themes_list, READ, params_schema("themes.list")),
        MethodSpec("users.prefs.get", prefs_get, READ, params_schema("users.prefs.get")),
        MethodSpec("users.prefs.set", prefs_set, WRITE, params_schema("users.prefs.set")),
    )
