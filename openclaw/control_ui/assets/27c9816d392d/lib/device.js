// The browser's device identity: an Ed25519 key pair made with WebCrypto, kept in IndexedDB with
// a non-extractable private key. The gateway knows the device by the hex SHA-256 of the raw
// public key and checks a signature over the connect fields (payload v3, protocol.md §2.6).

const DB_NAME = "openclaw-control-ui";
const STORE = "identity";
const KEY = "device-v1";

export function b64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** WebCrypto exists only in a secure context (HTTPS or localhost). */
export function canMakeIdentity() {
  return Boolean(globalThis.crypto && crypto.subtle && globalThis.isSecureContext);
}

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function stored(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

async function generate() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  const digest = await crypto.subtle.digest("SHA-256", raw);
  return {
    deviceId: hex(digest),
    publicKey: b64url(raw),
    privateKey: pair.privateKey,
    createdAtMs: Date.now(),
  };
}

let cached = null;

/** The identity of this browser profile, made on first use (null without WebCrypto Ed25519). */
export async function deviceIdentity() {
  if (cached) return cached;
  if (!canMakeIdentity()) return null;
  cached = (async () => {
    try {
      const found = await stored("readonly", (s) => s.get(KEY));
      if (found && found.privateKey && found.deviceId) return found;
    } catch {
      // no IndexedDB (private mode...): an identity for this page only
    }
    let made;
    try {
      made = await generate();
    } catch {
      return null; // a browser without Ed25519 in WebCrypto
    }
    try {
      await stored("readwrite", (s) => s.put(made, KEY));
    } catch {
      // kept in memory only
    }
    return made;
  })();
  const result = await cached;
  if (!result) cached = null;
  return result;
}

/** Forget the identity (the next connect makes a new one, which needs pairing again). */
export async function forgetIdentity() {
  cached = null;
  try {
    await stored("readwrite", (s) => s.delete(KEY));
  } catch {
    // nothing stored
  }
}

function normalizeMetadata(value) {
  return typeof value === "string" ? value.trim().replace(/[A-Z]/g, (c) => c.toLowerCase()) : "";
}

/** The `device` object of `connect`: v3 payload signed with the identity's private key. */
export async function signConnect(identity, fields) {
  const payload = [
    "v3",
    identity.deviceId,
    fields.clientId,
    fields.clientMode,
    fields.role,
    fields.scopes.join(","),
    String(fields.signedAt),
    fields.token || "",
    fields.nonce,
    normalizeMetadata(fields.platform),
    normalizeMetadata(fields.deviceFamily),
  ].join("|");
  const signature = await crypto.subtle.sign(
    "Ed25519",
    identity.privateKey,
    new TextEncoder().encode(payload),
  );
  return {
    id: identity.deviceId,
    publicKey: identity.publicKey,
    signature: b64url(signature),
    signedAt: fields.signedAt,
    nonce: fields.nonce,
  };
}
