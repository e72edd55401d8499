// The gateway's WebSocket protocol (v4) as the Control UI speaks it: the connect.challenge
// handshake with a signed device identity, request/response by id, events with a per-connection
// `seq` (a gap means lost events: reconnect and refetch), the tick watchdog, the `shutdown`
// event, and reconnects with backoff. Connect errors are sorted into what the user must do:
// sign in again, allow the origin, wait for pairing approval...

import { deviceIdentity, signConnect } from "./device.js";
import { deviceToken, instanceId } from "./storage.js";
import { uuid } from "./util.js";

export const PROTOCOL = 4;
export const CLIENT_ID = "openclaw-control-ui";
export const CLIENT_MODE = "webchat";
export const ROLE = "operator";
export const SCOPES = [
  "operator.admin",
  "operator.read",
  "operator.write",
  "operator.approvals",
  "operator.pairing",
];
export const CAPS = ["tool-events", "approvals"];

const BACKOFF_START_MS = 800;
const BACKOFF_FACTOR = 1.7;
const BACKOFF_MAX_MS = 15000;
const CHALLENGE_WAIT_MS = 2000;
const HELLO_WAIT_MS = 20000;
const PAIRING_RETRY_MS = 3000;

// details.code values that no retry can fix: the user has to act.
const AUTH_CODES = new Set([
  "AUTH_TOKEN_MISSING",
  "AUTH_TOKEN_MISMATCH",
  "AUTH_TOKEN_NOT_CONFIGURED",
  "AUTH_PASSWORD_MISSING",
  "AUTH_PASSWORD_MISMATCH",
  "AUTH_PASSWORD_NOT_CONFIGURED",
  "AUTH_BOOTSTRAP_TOKEN_INVALID",
  "AUTH_DEVICE_TOKEN_MISMATCH",
  "AUTH_REQUIRED",
  "AUTH_UNAUTHORIZED",
  "AUTH_SCOPE_MISMATCH",
  "AUTH_IDENTITY_HEADER_REQUIRED",
  "AUTH_VERIFIED_USER_REQUIRED",
]);

export class RequestError extends Error {
  constructor(method, error) {
    super(error?.message || `${method} failed`);
    this.method = method;
    this.code = error?.code || "UNAVAILABLE";
    this.details = error?.details;
    this.retryable = Boolean(error?.retryable);
    this.retryAfterMs = Number(error?.retryAfterMs) || null;
  }
}

/** What went wrong with a connect, for the screens: kind + message (+ details). */
export function classifyConnectError(error) {
  const details = error?.details || {};
  const code = details.code || "";
  const message = error?.message || "connect failed";
  if (code === "CONTROL_UI_ORIGIN_NOT_ALLOWED" || /origin not allowed/i.test(message)) {
    return { kind: "origin", message, details };
  }
  if (code === "PAIRING_REQUIRED" || error?.code === "NOT_PAIRED" && /pairing/i.test(message)) {
    return { kind: "pairing", message, details };
  }
  if (
    code === "CONTROL_UI_DEVICE_IDENTITY_REQUIRED" || code === "DEVICE_IDENTITY_REQUIRED" ||
    /device identity required/i.test(message)
  ) {
    return { kind: "insecure", message, details };
  }
  if (code === "AUTH_RATE_LIMITED") return { kind: "rate-limited", message, details };
  if (AUTH_CODES.has(code) || /^unauthorized/i.test(message)) {
    return { kind: "auth", message, details };
  }
  if (code === "PROTOCOL_MISMATCH" || /protocol mismatch/i.test(message)) {
    return { kind: "protocol", message, details };
  }
  if (code.startsWith("DEVICE_AUTH_")) return { kind: "device", message, details };
  return { kind: "error", message, details, retryAfterMs: error?.retryAfterMs };
}

/** The WebSocket URL of the gateway that served this page (under its base path). */
export function defaultGatewayUrl(basePath) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${basePath || ""}`;
}

export class GatewayClient {
  /**
   * url: ws(s) URL; auth: () => {token?, password?}; version: our UI version;
   * onState(state), onHello(hello), onEvent(event, payload, frame), onGap(info).
   */
  constructor({ url, auth, version, onState, onHello, onEvent, onGap }) {
    this.url = url;
    this.auth = auth;
    this.version = version;
    this.onState = onState || (() => {});
    this.onHello = onHello || (() => {});
    this.onEvent = onEvent || (() => {});
    this.onGap = onGap || (() => {});
    this.ws = null;
    this.hello = null;
    this.methods = new Set();
    this.pending = new Map();
    this.counter = 0;
    this.lastSeq = null;
    this.backoffMs = BACKOFF_START_MS;
    this.retryTimer = 0;
    this.watchdog = 0;
    this.lastFrameAt = 0;
    this.stopped = true;
    this.usedDeviceToken = false;
    this.state = { phase: "idle", problem: null, shutdown: null, attempt: 0, connectedSince: 0 };
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    if (this.ws) this.ws.close(1000, "client stopped");
    this.ws = null;
    this.setState({ phase: "idle" });
  }

  /** Reconnect now (after a seq gap, or the user asked). */
  reconnect(reason) {
    if (this.ws) this.ws.close(4000, reason || "reconnect");
    else {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  setState(patch) {
    this.state = { ...this.state, ...patch };
    this.onState(this.state);
  }

  /** Is `method` advertised in hello-ok.features.methods? */
  can(method) {
    return this.methods.has(method);
  }

  request(method, params) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.hello) {
      return Promise.reject(new RequestError(method, { message: "not connected to the gateway" }));
    }
    this.counter += 1;
    const id = `${this.counter}:${uuid()}`;
    const frame = { type: "req", id, method };
    if (params !== undefined) frame.params = params;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { method, resolve, reject });
      ws.send(JSON.stringify(frame));
    });
  }

  async connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const attempt = this.state.attempt + 1;
    const reconnecting = Boolean(this.hello) || this.state.phase === "reconnecting";
    this.setState({ phase: reconnecting ? "reconnecting" : "connecting", attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      this.setState({ problem: { kind: "error", message: String(error.message || error) } });
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.lastSeq = null;
    let challenge = null;
    let connectSent = false;
    let challengeTimer = 0;
    let helloTimer = 0;

    const sendConnect = async () => {
      if (connectSent || ws !== this.ws) return;
      connectSent = true;
      clearTimeout(challengeTimer);
      try {
        const params = await this.connectParams(challenge);
        if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
        const id = `connect:${uuid()}`;
        this.pending.set(id, {
          method: "connect",
          resolve: (hello) => {
            clearTimeout(helloTimer);
            this.handleHello(hello);
          },
          reject: (error) => {
            clearTimeout(helloTimer);
            this.handleConnectError(error);
          },
          raw: true,
        });
        ws.send(JSON.stringify({ type: "req", id, method: "connect", params }));
        helloTimer = setTimeout(() => ws.close(4000, "connect timeout"), HELLO_WAIT_MS);
      } catch (error) {
        this.setState({ problem: { kind: "error", message: `connect: ${error.message || error}` } });
        ws.close(4008, "connect failed");
      }
    };

    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      challengeTimer = setTimeout(sendConnect, CHALLENGE_WAIT_MS);
    };
    ws.onmessage = (message) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "event" && frame.event === "connect.challenge" && !connectSent) {
        challenge = frame.payload || {};
        sendConnect();
        return;
      }
      this.handleFrame(frame);
    };
    ws.onclose = (event) => {
      clearTimeout(challengeTimer);
      clearTimeout(helloTimer);
      if (ws !== this.ws) return;
      this.ws = null;
      clearInterval(this.watchdog);
      const why = `gateway closed (${event.code})${event.reason ? `: ${event.reason}` : ""}`;
      for (const [, waiter] of this.pending) waiter.reject(new RequestError(waiter.method, { message: why }));
      this.pending.clear();
      const wasConnected = Boolean(this.hello);
      this.hello = null;
      if (this.stopped) return;
      if (this.terminal) {
        this.setState({ phase: "failed" });
        return;
      }
      if (wasConnected) this.setState({ phase: "reconnecting", lastClose: why });
      this.scheduleRetry();
    };
  }

  async connectParams(challenge) {
    const nonce = typeof challenge?.nonce === "string" ? challenge.nonce : "";
    // The gateway's clock, when it sent one: no skew between browser and gateway.
    const signedAt = Number.isInteger(challenge?.ts) ? challenge.ts : Date.now();
    const secret = this.auth() || {};
    const identity = await deviceIdentity();
    const auth = {};
    if (secret.token) auth.token = secret.token;
    if (secret.password) auth.password = secret.password;
    this.usedDeviceToken = false;
    if (identity && !secret.token && !secret.password) {
      const stored = deviceToken.get(this.url, identity.deviceId);
      if (stored && stored.token) {
        auth.deviceToken = stored.token;
        this.usedDeviceToken = true;
      }
    }
    const platform = navigator.platform || "web";
    const params = {
      minProtocol: PROTOCOL,
      maxProtocol: PROTOCOL,
      client: {
        id: CLIENT_ID,
        version: this.version,
        platform,
        mode: CLIENT_MODE,
        instanceId: instanceId(),
      },
      role: ROLE,
      scopes: SCOPES,
      caps: CAPS,
      userAgent: navigator.userAgent,
      locale: navigator.language,
    };
    try {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone) params.client.timeZone = zone.slice(0, 64);
    } catch {
      // no time zone
    }
    if (Object.keys(auth).length) params.auth = auth;
    if (identity && nonce) {
      params.device = await signConnect(identity, {
        clientId: CLIENT_ID,
        clientMode: CLIENT_MODE,
        role: ROLE,
        scopes: SCOPES,
        signedAt,
        token: auth.token ?? auth.deviceToken ?? "",
        nonce,
        platform,
        deviceFamily: "",
      });
    }
    this.identity = identity;
    return params;
  }

  handleHello(hello) {
    this.hello = hello;
    this.terminal = false;
    this.backoffMs = BACKOFF_START_MS;
    this.methods = new Set(hello?.features?.methods || []);
    const auth = hello?.auth || {};
    if (auth.deviceToken && this.identity) {
      deviceToken.set(this.url, {
        deviceId: this.identity.deviceId,
        token: auth.deviceToken,
        role: auth.role,
        scopes: auth.scopes,
        issuedAtMs: auth.issuedAtMs,
      });
    }
    const tickMs = Math.max(1000, Number(hello?.policy?.tickIntervalMs) || 30000);
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      if (this.ws && Date.now() - this.lastFrameAt > 2 * tickMs) this.ws.close(4000, "tick timeout");
    }, Math.min(tickMs, 5000));
    this.setState({
      phase: "connected",
      problem: null,
      shutdown: null,
      attempt: 0,
      connectedSince: Date.now(),
    });
    this.onHello(hello);
  }

  handleConnectError(error) {
    const problem = classifyConnectError(error);
    this.terminal = false;
    let retryMs = null;
    if (problem.kind === "auth" && this.usedDeviceToken) {
      // A stale device token (rotated, revoked, another gateway): forget it, retry once.
      deviceToken.clear(this.url);
      retryMs = 0;
      problem.kind = "error";
    } else if (problem.kind === "pairing") {
      retryMs = PAIRING_RETRY_MS;
    } else if (problem.kind === "rate-limited") {
      retryMs = Number(error?.retryAfterMs) || 60000;
    } else if (problem.kind === "error" && error?.retryable) {
      retryMs = Number(error?.retryAfterMs) || BACKOFF_START_MS;
    } else if (problem.kind === "error" || problem.kind === "device") {
      retryMs = null; // ordinary backoff
    } else {
      this.terminal = true; // auth, origin, insecure, protocol: the user must act
    }
    this.setState({ problem, phase: this.terminal ? "failed" : "reconnecting" });
    this.nextRetryMs = retryMs;
    if (this.ws) this.ws.close(4008, "connect failed");
  }

  scheduleRetry() {
    if (this.stopped || this.terminal) return;
    let delay = this.nextRetryMs;
    this.nextRetryMs = null;
    const shutdown = this.state.shutdown;
    if (delay === null || delay === undefined) {
      delay = this.backoffMs;
      this.backoffMs = Math.min(BACKOFF_MAX_MS, Math.round(this.backoffMs * BACKOFF_FACTOR));
      if (shutdown && Number(shutdown.restartExpectedMs) > 0 && this.state.attempt <= 1) {
        delay = Math.max(delay, Number(shutdown.restartExpectedMs));
      }
    }
    this.setState({ nextRetryAt: Date.now() + delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  handleFrame(frame) {
    if (frame.type === "res") {
      const waiter = this.pending.get(frame.id);
      if (!waiter) return;
      this.pending.delete(frame.id);
      if (frame.ok) {
        // `agent`-style methods answer twice on one id; the first "accepted" answer is enough.
        waiter.resolve(frame.payload);
      } else if (waiter.raw) {
        waiter.reject(frame.error || { message: "connect failed" });
      } else {
        waiter.reject(new RequestError(waiter.method, frame.error));
      }
      return;
    }
    if (frame.type !== "event") return;
    if (typeof frame.seq === "number") {
      if (this.lastSeq !== null && frame.seq > this.lastSeq + 1) {
        const expected = this.lastSeq + 1;
        this.lastSeq = frame.seq;
        this.onGap({ expected, received: frame.seq });
        this.reconnect(`event gap (expected seq ${expected}, got ${frame.seq})`);
        return;
      }
      this.lastSeq = frame.seq;
    }
    if (frame.event === "shutdown") {
      this.setState({ shutdown: { ...(frame.payload || {}), at: Date.now() } });
    }
    if (frame.event === "tick") return;
    this.onEvent(frame.event, frame.payload, frame);
  }
}
