"""DM pairing as upstream does it (``src/pairing/pairing-store.ts``).

* a code is 8 characters of ``ABCDEFGHJKLMNPQRSTUVWXYZ23456789`` (no ``0 O 1 I``);
* a request expires one hour after it was created; a sender keeps its code (and is not sent
  a new one) while the request lives; ``lastSeenAt`` moves on every contact;
* at most 3 pending requests per channel account: a fourth sender gets nothing;
* approving adds the sender to the account's allow list (DMs only, never groups) and removes
  the request; ``requestId`` (what the Control UI approves) is an opaque hash of the request;
* the first approval also makes the sender the command owner when
  ``commands.ownerAllowFrom`` is empty (the caller writes that config).

Blocking functions over :class:`~openclaw.channels.store.ChannelDatabase` (the gateway runs
them in a thread; the CLI calls them when the gateway is down).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from openclaw.channels.store import ChannelDatabase

CODE_LENGTH: Final = 8
CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PENDING_TTL_MS: Final = 3_600_000
MAX_PENDING_PER_ACCOUNT: Final = 3
APPROVED_MESSAGE: Final = "✅ OpenClaw access approved. Send a message to start chatting."


@attrs.frozen
class PairingRequest:
    channel: str
    account_id: str
    sender_id: str
    code: str
    created_at: str
    last_seen_at: str
    meta: Mapping[str, str] = attrs.field(factory=dict)

    def to_cli_json(self) -> dict[str, Any]:
        """``openclaw pairing list --json`` row: ``{id, code, createdAt, lastSeenAt, meta}``."""
        return {"id": self.sender_id, "code": self.code, "createdAt": self.created_at,
                "lastSeenAt": self.last_seen_at,
                "meta": {**self.meta, "accountId": self.account_id}}

    @property
    def request_id(self) -> str:
        return request_id(self.channel, self.account_id, self.sender_id, self.created_at)

    def expires_at(self) -> str:
        return iso(parse_iso(self.created_at) + PENDING_TTL_MS)


def iso(ms: float) -> str:
    """``Date#toISOString``: ``2026-12-06T10:00:00.000Z``."""
    moment = datetime.fromtimestamp(ms / 1000.0, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ms) % 1000:03d}Z"


def parse_iso(text: str) -> int:
    moment = datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(moment.timestamp() * 1000)


def request_id(channel: str, account_id: str, sender_id: str, created_at: str) -> str:
    """``resolveChannelPairingRequestId``: base64url(sha256(...))[:32]."""
    digest = hashlib.sha256(f"{channel}\0{account_id}\0{sender_id}\0{created_at}"
                            .encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:32]


def new_code(existing: set[str]) -> str:
    for _ in range(500):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in existing:
            return code
    raise RuntimeError("failed to generate a unique pairing code")


def pairing_reply(channel: str, id_line: str, code: str) -> str:
    """The message an unknown DM sender gets (``buildPairingReply``)."""
    return "\n".join(["OpenClaw: access not configured.", "", id_line, "Pairing code:", "```",
                      code, "```", "", "Ask the bot owner to approve with:", "```",
                      f"openclaw pairing approve {channel} {code}", "```"])


def _row(row: tuple[Any, ...]) -> PairingRequest:
    return PairingRequest(row[0], row[1], row[2], row[3], row[4], row[5],
                          json.loads(row[6] or "{}"))


_COLUMNS: Final = "channel, account, sender_id, code, created_at, last_seen_at, meta"


def _prune(conn: Any, channel: str, now_ms: int) -> None:
    cutoff = iso(now_ms - PENDING_TTL_MS)
    conn.execute("DELETE FROM pairing_requests WHERE channel = ? AND created_at < ?",
                 (channel, cutoff))


def upsert_request(db: ChannelDatabase, channel: str, account_id: str, sender_id: str,
                   meta: Mapping[str, str], now_ms: int) -> tuple[str, bool]:
    """``(code, created)``: a new request's code (send it), the existing one's (do not
    send it again), or ``("", False)`` when the account has 3 pending requests already."""
    now = iso(now_ms)
    with db.transaction() as conn:
        _prune(conn, channel, now_ms)
        found = conn.execute(f"SELECT {_COLUMNS} FROM pairing_requests WHERE channel = ? AND "
                             "account = ? AND sender_id = ?",
                             (channel, account_id, sender_id)).fetchone()
        clean_meta = json.dumps({k: v for k, v in meta.items() if v}, separators=(",", ":"))
        if found is not None:
            conn.execute("UPDATE pairing_requests SET last_seen_at = ?, meta = ? WHERE "
                         "channel = ? AND account = ? AND sender_id = ?",
                         (now, clean_meta, channel, account_id, sender_id))
            return str(found[3]), False
        pending = conn.execute("SELECT COUNT(*) FROM pairing_requests WHERE channel = ? AND "
                               "account = ?", (channel, account_id)).fetchone()[0]
        if pending >= MAX_PENDING_PER_ACCOUNT:
            return "", False
        codes = {str(row[0]) for row in conn.execute(
            "SELECT code FROM pairing_requests WHERE channel = ?", (channel,))}
        code = new_code(codes)
        conn.execute(f"INSERT INTO pairing_requests ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (channel, account_id, sender_id, code, now, now, clean_meta))
        return code, True


def list_requests(db: ChannelDatabase, channel: str | None, now_ms: int,
                  account_id: str | None = None) -> list[PairingRequest]:
    """Live requests (oldest first), of one channel (and account) or of all."""
    with db.transaction() as conn:
        channels = [channel] if channel else [str(row[0]) for row in conn.execute(
            "SELECT DISTINCT channel FROM pairing_requests")]
        for name in channels:
            _prune(conn, name, now_ms)
        where, args = "1 = 1", []
        if channel:
            where, args = "channel = ?", [channel]
        if account_id:
            where += " AND account = ?"
            args.append(account_id)
        rows = conn.execute(f"SELECT {_COLUMNS} FROM pairing_requests WHERE {where} "
                            "ORDER BY created_at, account, sender_id", args).fetchall()
    return [_row(row) for row in rows]


def _resolve(db: ChannelDatabase, channel: str, now_ms: int, account_id: str | None,
             matches: Callable[[PairingRequest], bool], approve: bool,
             normalize: Callable[[str], str]) -> PairingRequest | None:
    with db.transaction() as conn:
        _prune(conn, channel, now_ms)
        where, args = "channel = ?", [channel]
        if account_id:
            where += " AND account = ?"
            args.append(account_id)
        rows = [_row(row) for row in conn.execute(
            f"SELECT {_COLUMNS} FROM pairing_requests WHERE {where} ORDER BY created_at", args)]
        found = next((request for request in rows if matches(request)), None)
        if found is None:
            return None
        conn.execute("DELETE FROM pairing_requests WHERE channel = ? AND account = ? AND "
                     "sender_id = ?", (channel, found.account_id, found.sender_id))
        if approve:
            entry = normalize(found.sender_id)
            if entry and entry != "*":
                conn.execute("INSERT OR IGNORE INTO allow_entries (channel, account, entry, "
                             "added_at) VALUES (?, ?, ?, ?)",
                             (channel, found.account_id, entry, now_ms))
        return found


def approve_code(db: ChannelDatabase, channel: str, code: str, now_ms: int, *,
                 account_id: str | None = None,
                 normalize: Callable[[str], str] = str.lower) -> PairingRequest | None:
    wanted = code.strip().upper()
    if not wanted:
        return None
    return _resolve(db, channel, now_ms, account_id, lambda r: r.code.upper() == wanted,
                    True, normalize)


def approve_request(db: ChannelDatabase, channel: str, account_id: str, wanted: str,
                    now_ms: int, *, normalize: Callable[[str], str] = str.lower
                    ) -> PairingRequest | None:
    return _resolve(db, channel, now_ms, account_id, lambda r: r.request_id == wanted, True,
                    normalize)


def dismiss_request(db: ChannelDatabase, channel: str, account_id: str, wanted: str,
                    now_ms: int) -> PairingRequest | None:
    return _resolve(db, channel, now_ms, account_id, lambda r: r.request_id == wanted, False,
                    str.lower)


def allowed_senders(db: ChannelDatabase, channel: str, account_id: str) -> list[str]:
    """Senders approved by pairing for this account (the allow store)."""
    return [str(row[0]) for row in db.query(
        "SELECT entry FROM allow_entries WHERE channel = ? AND account = ? ORDER BY added_at",
        (channel, account_id))]


def owner_entry(channel: str, sender_id: str) -> str:
    """The ``commands.ownerAllowFrom`` entry of an approved sender (``irc:alice!~a@h``)."""
    return f"{channel}:{sender_id}"
