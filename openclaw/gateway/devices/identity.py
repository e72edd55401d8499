"""Ed25519 device identity: ids, signed connect payloads (v2/v3), the gateway's own key.

* ``device.publicKey`` is base64url (standard base64 and PEM accepted) of the raw 32-byte key;
* ``device.id`` is the lowercase hex SHA-256 of those raw bytes;
* ``device.signature`` signs
  ``v3|id|clientId|mode|role|scopes|signedAt|token|nonce|platform|family``
  (platform/family trimmed and ASCII-lowercased) or the legacy v2 form without the last two
  fields. The server tries v3 first, then v2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Final, Literal

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from openclaw.atomic_files import atomic_write_bytes

MAX_BASE64_INPUT: Final = 4096
ED25519_KEY_BYTES: Final = 32

PayloadVersion = Literal["v2", "v3"]


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Permissive base64url/base64 decode (padding repaired), like the reference gateway."""
    if len(text) > MAX_BASE64_INPUT:
        raise ValueError("base64url input exceeds the maximum allowed length")
    normalized = text.replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    try:
        return base64.b64decode(normalized, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def public_key_bytes(public_key: str) -> bytes | None:
    """Raw key bytes from base64url/base64 or a PEM SPKI key; ``None`` when undecodable."""
    try:
        if "BEGIN" in public_key:
            key = serialization.load_pem_public_key(public_key.encode("utf-8"))
            if not isinstance(key, Ed25519PublicKey):
                return None
            raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = b64url_decode(public_key)
    except (ValueError, TypeError):
        return None
    return raw or None


def device_id_for_public_key(public_key: str) -> str | None:
    raw = public_key_bytes(public_key)
    return hashlib.sha256(raw).hexdigest() if raw is not None else None


def normalize_public_key(public_key: str) -> str | None:
    """Canonical base64url of a valid 32-byte Ed25519 key, else ``None``."""
    raw = public_key_bytes(public_key)
    if raw is None or len(raw) != ED25519_KEY_BYTES:
        return None
    return b64url_encode(raw)


def normalize_metadata(value: str | None) -> str:
    """Trim and ASCII-lowercase (``normalizeDeviceMetadataForAuth``)."""
    if not isinstance(value, str):
        return ""
    trimmed = value.strip()
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in trimmed)


@attrs.frozen
class SignedConnectFields:
    device_id: str
    client_id: str
    client_mode: str
    role: str
    scopes: tuple[str, ...]
    signed_at_ms: int
    token: str | None
    nonce: str
    platform: str | None = None
    device_family: str | None = None


def _common_fields(version: str, fields: SignedConnectFields) -> tuple[str, ...]:
    return (version, fields.device_id, fields.client_id, fields.client_mode, fields.role,
            ",".join(fields.scopes), str(fields.signed_at_ms), fields.token or "", fields.nonce)


def build_payload_v2(fields: SignedConnectFields) -> str:
    return "|".join(_common_fields("v2", fields))


def build_payload_v3(fields: SignedConnectFields) -> str:
    """v2 plus the platform and device family (normalized), which the signature binds."""
    return "|".join((*_common_fields("v3", fields), normalize_metadata(fields.platform),
                     normalize_metadata(fields.device_family)))


def verify_signature(public_key: str, payload: str, signature: str) -> bool:
    raw = public_key_bytes(public_key)
    if raw is None or len(raw) != ED25519_KEY_BYTES:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(raw)
        key.verify(b64url_decode(signature), payload.encode("utf-8"))
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_payload_version(
    public_key: str, signature: str, fields: SignedConnectFields
) -> PayloadVersion | None:
    """Which signed payload the signature covers (v3 preferred), or ``None``."""
    if verify_signature(public_key, build_payload_v3(fields), signature):
        return "v3"
    if verify_signature(public_key, build_payload_v2(fields), signature):
        return "v2"
    return None


def sign_payload(private_key: Ed25519PrivateKey, payload: str) -> str:
    return b64url_encode(private_key.sign(payload.encode("utf-8")))


class GatewayIdentity:
    """The gateway's own Ed25519 identity, persisted under ``<state>/identity/device.json``."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = b64url_encode(raw)
        self.device_id = hashlib.sha256(raw).hexdigest()

    def sign(self, payload: str) -> str:
        return sign_payload(self._private_key, payload)

    @classmethod
    def generate(cls) -> GatewayIdentity:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> GatewayIdentity:
        """Small synchronous file I/O, done once at start-up."""
        if path.exists():
            data = json.loads(path.read_text("utf-8"))
            raw = b64url_decode(str(data["privateKey"]))
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        identity = cls.generate()
        private_raw = identity._private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        document = {
            "version": 1,
            "deviceId": identity.device_id,
            "publicKey": identity.public_key,
            "privateKey": b64url_encode(private_raw),
        }
        atomic_write_bytes(path, json.dumps(document, indent=2).encode("utf-8") + b"\n")
        return identity


def gateway_identity_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "identity" / "device.json"
