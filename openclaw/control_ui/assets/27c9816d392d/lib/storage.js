// What the UI keeps in localStorage, keyed by the gateway's WebSocket URL so that credentials
// for one gateway are never offered to another.

const PREFIX = "openclaw.twisted-ui";

function read(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text ? JSON.parse(text) : fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or disabled: the UI still works for this page
  }
}

/** `{token?, password?}`: the shared secret the user signed in with. */
export const credentials = {
  get: (wsUrl) => read(`${PREFIX}.auth.v1:${wsUrl}`, {}),
  set: (wsUrl, value) => write(`${PREFIX}.auth.v1:${wsUrl}`, value),
  clear: (wsUrl) => write(`${PREFIX}.auth.v1:${wsUrl}`, null),
};

/** `{deviceId, token, role, scopes}`: the device token from hello-ok.auth. */
export const deviceToken = {
  get: (wsUrl, deviceId) => {
    const value = read(`${PREFIX}.device-token.v1:${wsUrl}`, null);
    return value && value.deviceId === deviceId ? value : null;
  },
  set: (wsUrl, value) => write(`${PREFIX}.device-token.v1:${wsUrl}`, value),
  clear: (wsUrl) => write(`${PREFIX}.device-token.v1:${wsUrl}`, null),
};

/** UI preferences that are not per gateway (theme) and per gateway (last session...). */
export const prefs = {
  get: (name, fallback) => read(`${PREFIX}.pref.${name}`, fallback),
  set: (name, value) => write(`${PREFIX}.pref.${name}`, value),
};

/** A stable id for this browser tab's client instance (presence key). */
export function instanceId() {
  let id = prefs.get("instanceId", null);
  if (!id) {
    id = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
    prefs.set("instanceId", id);
  }
  return id;
}
