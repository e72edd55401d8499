// OpenClaw Control UI (openclaw-twisted): the app shell. Signs in (token/password from the URL
// fragment or the form), keeps one GatewayClient, routes between views, and shows what the
// connection needs from the user (wrong token, origin not allowed, pairing approval...).

import { html, nothing, render } from "./vendor/lit-html/lit-html.js";
import { UI_BUILD_ID, UI_ROOT, UI_VERSION } from "./lib/build-info.js";
import { canMakeIdentity, deviceIdentity, forgetIdentity } from "./lib/device.js";
import { confirmDialog } from "./lib/dialog.js";
import { defaultGatewayUrl, GatewayClient, RequestError } from "./lib/gateway.js";
import { icons } from "./lib/icons.js";
import { credentials, deviceToken, prefs } from "./lib/storage.js";
import { ago, errorText } from "./lib/util.js";
import { VIEWS } from "./views/index.js";

const THEMES = ["system", "light", "dark"];

function basePathOf(root) {
  const fromAttr = document.documentElement.getAttribute("data-openclaw-control-ui-base-path");
  if (fromAttr !== null && fromAttr !== undefined && fromAttr !== "") return fromAttr.replace(/\/+$/, "");
  return root.pathname.replace(/\/+$/, "");
}

/** `#token=…&password=…&gatewayUrl=…` (also `?token=`): read once, then removed from the URL. */
function takeFragmentAuth() {
  const found = {};
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const query = new URLSearchParams(location.search);
  for (const name of ["token", "password", "gatewayUrl"]) {
    const value = hash.get(name) || query.get(name);
    if (value) found[name] = value;
    hash.delete(name);
    query.delete(name);
  }
  if (Object.keys(found).length) {
    const rest = hash.toString();
    const search = query.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}${rest ? `#${rest}` : ""}`);
  }
  return found;
}

class App {
  constructor(root) {
    this.root = root;
    this.basePath = basePathOf(UI_ROOT);
    const fragment = takeFragmentAuth();
    const sameOrigin = defaultGatewayUrl(this.basePath);
    // A gatewayUrl from a link only applies to this tab (never stored), and credentials are
    // stored per gateway URL: a crafted link cannot make the UI send a saved token elsewhere.
    this.wsUrl = fragment.gatewayUrl || sessionStorage.getItem("openclaw.twisted-ui.gatewayUrl") || sameOrigin;
    if (fragment.gatewayUrl) sessionStorage.setItem("openclaw.twisted-ui.gatewayUrl", fragment.gatewayUrl);
    if (fragment.token || fragment.password) {
      credentials.set(this.wsUrl, { token: fragment.token, password: fragment.password });
    }
    this.state = {
      phase: "idle",
      problem: null,
      shutdown: null,
      route: this.routeFromLocation(),
      navOpen: false,
      toasts: [],
      gapNotice: null,
    };
    this.theme = prefs.get("theme", "system");
    this.applyTheme();
    this.views = new Map();
    this.assistant = { name: "Assistant", avatar: "A" };
    this.agents = null;
    this.badges = { approvals: 0, devices: 0 };
    this.scheduled = false;
    window.addEventListener("popstate", () => this.go(this.routeFromLocation(), false));
    window.addEventListener("keydown", (e) => this.onKey(e));
    this.client = null;
    this.startClient();
  }

  // ---- connection ----

  startClient() {
    if (this.client) this.client.stop();
    this.client = new GatewayClient({
      url: this.wsUrl,
      version: UI_VERSION,
      auth: () => credentials.get(this.wsUrl),
      onState: (s) => {
        this.state.phase = s.phase;
        this.state.problem = s.problem;
        this.state.shutdown = s.shutdown;
        this.state.nextRetryAt = s.nextRetryAt;
        this.state.lastClose = s.lastClose;
        this.update();
      },
      onHello: (hello) => this.onHello(hello),
      onEvent: (name, payload, frame) => this.onEvent(name, payload, frame),
      onGap: (gap) => {
        // said once the reconnect (and the refetch of the current view) is done
        this.pendingGap = `Missed events (expected #${gap.expected}, got #${gap.received}); reconnected and refreshed.`;
      },
    });
    this.client.start();
  }

  onHello(hello) {
    const server = hello?.server || {};
    // A restarted gateway of another build may ship another UI: reload once to pick it up.
    const firstBuild = sessionStorage.getItem("openclaw.twisted-ui.serverBuild");
    if (server.controlUiBuildSource === "bundled" && server.buildId) {
      if (firstBuild && firstBuild !== server.buildId) {
        sessionStorage.setItem("openclaw.twisted-ui.serverBuild", server.buildId);
        location.reload();
        return;
      }
      sessionStorage.setItem("openclaw.twisted-ui.serverBuild", server.buildId);
    }
    this.hello = hello;
    if (this.pendingGap) {
      this.state.gapNotice = this.pendingGap;
      this.pendingGap = null;
    }
    this.refreshShared();
    const view = this.currentView();
    if (view && view.enter) view.enter({ reconnect: true });
    this.update();
  }

  async refreshShared() {
    const defaults = this.hello?.snapshot?.sessionDefaults || {};
    const agentId = defaults.defaultAgentId || "main";
    if (this.can("agents.list")) {
      try {
        this.agents = await this.call("agents.list", {});
      } catch {
        this.agents = null;
      }
    }
    if (this.can("agent.identity.get")) {
      try {
        const identity = await this.call("agent.identity.get", { agentId });
        this.assistant = {
          name: identity?.name || "Assistant",
          avatar: identity?.emoji || (identity?.avatar && identity.avatar.length <= 2 ? identity.avatar : null) ||
            (identity?.name || "A").slice(0, 1).toUpperCase(),
        };
      } catch {
        // keep the defaults
      }
    }
    if (this.can("exec.approval.list")) {
      try {
        const list = await this.call("exec.approval.list", {});
        this.badges.approvals = Array.isArray(list) ? list.length : 0;
      } catch {
        this.badges.approvals = 0;
      }
    }
    if (this.can("device.pair.list")) {
      try {
        const list = await this.call("device.pair.list", {});
        this.badges.devices = (list?.pending || []).length;
      } catch {
        this.badges.devices = 0;
      }
    }
    this.update();
  }

  can(method) {
    return Boolean(this.client && this.client.can(method));
  }

  call(method, params) {
    return this.client.request(method, params);
  }

  onEvent(name, payload, frame) {
    if (name === "exec.approval.requested") this.badges.approvals += 1;
    if (name === "exec.approval.resolved") this.badges.approvals = Math.max(0, this.badges.approvals - 1);
    if (name === "device.pair.requested") this.badges.devices += 1;
    if (name === "device.pair.resolved") this.badges.devices = Math.max(0, this.badges.devices - 1);
    for (const view of this.views.values()) {
      if (view.onEvent) view.onEvent(name, payload, frame);
    }
    this.update();
  }

  signIn({ token, password, gatewayUrl }) {
    if (gatewayUrl && gatewayUrl !== this.wsUrl) {
      this.wsUrl = gatewayUrl;
      sessionStorage.setItem("openclaw.twisted-ui.gatewayUrl", gatewayUrl);
    }
    credentials.set(this.wsUrl, { token: token || undefined, password: password || undefined });
    this.startClient();
  }

  async signOut() {
    const ok = await confirmDialog({
      title: "Sign out?",
      body: "The saved token and this browser's device token for this gateway are forgotten.",
      confirmLabel: "Sign out",
    });
    if (!ok) return;
    credentials.clear(this.wsUrl);
    deviceToken.clear(this.wsUrl);
    this.client.stop();
    this.hello = null;
    this.state.phase = "failed";
    this.state.problem = { kind: "auth", message: "Signed out.", signedOut: true };
    this.update();
  }

  async resetIdentity() {
    await forgetIdentity();
    deviceToken.clear(this.wsUrl);
    this.startClient();
  }

  // ---- routing ----

  routeFromLocation() {
    let path = location.pathname;
    if (this.basePath && path.startsWith(this.basePath)) path = path.slice(this.basePath.length);
    const id = path.replace(/^\/+/, "").split("/")[0] || "chat";
    return VIEWS.some((v) => v.id === id) ? id : "chat";
  }

  href(id) {
    return `${this.basePath}/${id}`;
  }

  go(id, push = true) {
    const previous = this.currentView();
    if (previous && this.state.route !== id && previous.leave) previous.leave();
    this.state.route = id;
    this.state.navOpen = false;
    if (push) history.pushState(null, "", this.href(id));
    const view = this.currentView();
    if (view && view.enter && this.hello) view.enter({ reconnect: false });
    this.update();
    const main = document.getElementById("main");
    if (main && push) main.focus({ preventScroll: true });
  }

  currentView() {
    const spec = VIEWS.find((v) => v.id === this.state.route) || VIEWS[0];
    let view = this.views.get(spec.id);
    if (!view) {
      view = new spec.View(this);
      this.views.set(spec.id, view);
    }
    return view;
  }

  onKey(event) {
    if (event.key === "Escape" && this.state.navOpen) {
      this.state.navOpen = false;
      this.update();
    }
  }

  // ---- theme, toasts ----

  applyTheme() {
    if (this.theme === "system") document.documentElement.removeAttribute("data-theme");
    else document.documentElement.setAttribute("data-theme", this.theme);
  }

  cycleTheme() {
    this.theme = THEMES[(THEMES.indexOf(this.theme) + 1) % THEMES.length];
    prefs.set("theme", this.theme);
    this.applyTheme();
    this.update();
  }

  toast(text, kind = "") {
    const toast = { id: Math.random(), text, kind };
    this.state.toasts = [...this.state.toasts, toast];
    this.update();
    setTimeout(() => {
      this.state.toasts = this.state.toasts.filter((t) => t !== toast);
      this.update();
    }, kind === "err" ? 8000 : 4000);
  }

  /** Run an RPC for a button: errors become a toast, success optionally too. */
  async act(method, params, { ok } = {}) {
    try {
      const result = await this.call(method, params);
      if (ok) this.toast(ok, "ok");
      return result;
    } catch (error) {
      this.toast(`${method}: ${errorText(error)}`, "err");
      throw error;
    }
  }

  // ---- rendering ----

  update() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.root.classList.contains("boot")) {
        this.root.classList.remove("boot");
        this.root.textContent = "";
      }
      render(this.template(), this.root);
    });
  }

  template() {
    const { phase, problem } = this.state;
    let body;
    if (!this.hello && problem && phase === "failed") body = this.gate(problem);
    else if (!this.hello && problem && problem.kind === "pairing") body = this.gate(problem);
    else if (!this.hello) body = this.connecting();
    else body = this.shell();
    return html`${body}
      <div class="toast-area" role="status" aria-live="polite">
        ${this.state.toasts.map((t) => html`<div class="toast ${t.kind}">${t.text}</div>`)}
      </div>`;
  }

  connecting() {
    const { problem, nextRetryAt } = this.state;
    return html`<main class="gate" aria-busy="true">
      <section class="panel" data-screen="connecting">
        <h1><span class="spinner"></span> Connecting…</h1>
        <p class="lead">Gateway <code>${this.wsUrl}</code></p>
        ${problem ? html`<div class="notice warn">${problem.message}${nextRetryAt && nextRetryAt > Date.now()
          ? ` · retrying in ${Math.ceil((nextRetryAt - Date.now()) / 1000)} s` : ""}</div>` : nothing}
        ${this.state.shutdown ? html`<div class="notice info">The gateway is restarting:
          ${this.state.shutdown.reason || "shutdown"}</div>` : nothing}
      </section>
    </main>`;
  }

  gate(problem) {
    const kind = problem.kind;
    if (kind === "origin") {
      return html`<main class="gate"><section class="panel" data-screen="origin">
        <h1>Origin not allowed</h1>
        <p class="lead">The gateway refused this page's origin <code>${location.origin}</code>.</p>
        <div class="notice err" data-problem="origin">${problem.message}</div>
        <p>Open the Control UI from the gateway host itself (for example
          <code>http://127.0.0.1:&lt;port&gt;/</code>), or add this origin to
          <code>gateway.controlUi.allowedOrigins</code> in the gateway's config:</p>
        <pre>openclaw config set gateway.controlUi.allowedOrigins '["${location.origin}"]'</pre>
        <div class="actions"><button class="primary" @click=${() => this.startClient()}>Try again</button></div>
      </section></main>`;
    }
    if (kind === "pairing") {
      const details = problem.details || {};
      return html`<main class="gate"><section class="panel" data-screen="pairing">
        <h1><span class="spinner"></span> Waiting for approval</h1>
        <p class="lead">This browser is a new device for the gateway. An operator has to approve it
          once; this page connects by itself as soon as that happens.</p>
        <dl class="kv">
          <dt>Device</dt><dd class="mono">${details.deviceId || this.client?.identity?.deviceId || "?"}</dd>
          ${details.requestId ? html`<dt>Request</dt><dd class="mono" data-request-id=${details.requestId}>${details.requestId}</dd>` : nothing}
          ${details.reason ? html`<dt>Reason</dt><dd>${details.reason}</dd>` : nothing}
        </dl>
        <p class="muted small">Approve it from a signed-in Control UI (Devices), or on the gateway host:</p>
        <pre>openclaw devices approve ${details.requestId || "<requestId>"}</pre>
        ${details.remediationHint ? html`<p class="muted small">${details.remediationHint}</p>` : nothing}
        <div class="actions">
          <button @click=${() => this.resetIdentity()}>New device identity</button>
          <button class="primary" @click=${() => this.startClient()}>Check now</button>
        </div>
      </section></main>`;
    }
    if (kind === "insecure") {
      return html`<main class="gate"><section class="panel" data-screen="insecure">
        <h1>A secure page is needed</h1>
        <p class="lead">The gateway requires a device identity, which browsers only allow on
          HTTPS or on <code>localhost</code>.</p>
        <div class="notice err">${problem.message}</div>
        <p>Open the UI as <code>http://127.0.0.1:&lt;port&gt;/</code> on the gateway host, through an
          SSH tunnel, or put the gateway behind HTTPS.</p>
        <div class="actions"><button class="primary" @click=${() => this.startClient()}>Try again</button></div>
      </section></main>`;
    }
    if (kind === "protocol") {
      return html`<main class="gate"><section class="panel" data-screen="protocol">
        <h1>Incompatible gateway</h1>
        <div class="notice err">${problem.message}</div>
        <p>This Control UI speaks protocol 4.</p>
        <div class="actions"><button class="primary" @click=${() => this.startClient()}>Try again</button></div>
      </section></main>`;
    }
    return this.signInForm(problem);
  }

  signInForm(problem) {
    const saved = credentials.get(this.wsUrl);
    const refused = problem && !problem.signedOut && (saved.token || saved.password);
    const missing = problem?.details?.code === "AUTH_TOKEN_MISSING" || problem?.details?.code === "AUTH_PASSWORD_MISSING";
    const submit = (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      this.signIn({
        token: String(form.get("token") || "").trim(),
        password: String(form.get("password") || ""),
        gatewayUrl: String(form.get("gatewayUrl") || "").trim() || this.wsUrl,
      });
    };
    return html`<main class="gate"><form class="panel" data-screen="sign-in" @submit=${submit}>
      <h1>Sign in to OpenClaw</h1>
      <p class="lead">Paste the gateway token (<code>openclaw config get gateway.auth.token</code>, or
        open the link <code>openclaw dashboard</code> prints).</p>
      ${problem && !problem.signedOut && !missing ? html`<div class="notice err" role="alert" data-problem="auth">
        ${refused ? "The gateway refused these credentials: " : ""}${problem.message}</div>` : nothing}
      ${problem?.signedOut ? html`<div class="notice info">Signed out.</div>` : nothing}
      ${!canMakeIdentity() ? html`<div class="notice warn">This page is not a secure context
        (HTTPS or localhost): the browser cannot make a device identity, so the gateway may refuse it.</div>` : nothing}
      <label class="field"><span>Token</span>
        <input name="token" type="password" autocomplete="current-password" autofocus
          .value=${saved.token || ""} placeholder="gateway token"></label>
      <label class="field"><span>Password</span>
        <input name="password" type="password" autocomplete="off" .value=${saved.password || ""}
          placeholder="only for password auth"><small>Leave empty with token auth.</small></label>
      <details><summary class="muted small">Gateway</summary>
        <label class="field"><span>WebSocket URL</span>
          <input name="gatewayUrl" .value=${this.wsUrl} spellcheck="false"></label>
      </details>
      <div class="actions"><button class="primary" type="submit">Connect</button></div>
    </form></main>`;
  }

  banner() {
    const { phase, shutdown, problem, nextRetryAt, gapNotice } = this.state;
    const parts = [];
    if (phase === "reconnecting" || phase === "connecting") {
      const why = shutdown
        ? html`Gateway restarting: <strong data-shutdown-reason>${shutdown.reason || "shutdown"}</strong>.`
        : html`Connection lost${this.state.lastClose ? html` (${this.state.lastClose})` : nothing}.`;
      const wait = nextRetryAt ? Math.max(0, Math.ceil((nextRetryAt - Date.now()) / 1000)) : 0;
      parts.push(html`<div class="banner ${shutdown ? "info" : "warn"}" role="status" data-banner="reconnecting">
        <span class="spinner"></span><span>${why} Reconnecting${wait ? ` in ${wait} s` : ""}…</span>
        ${problem && problem.kind !== "pairing" ? html`<span class="small">(${problem.message})</span>` : nothing}
        <button class="small" @click=${() => this.client.reconnect("user")}>Retry now</button>
      </div>`);
    } else if (phase === "failed" && problem) {
      parts.push(html`<div class="banner err" role="alert">${problem.message}
        <button class="small" @click=${() => this.startClient()}>Retry</button></div>`);
    }
    if (gapNotice && phase === "connected") {
      parts.push(html`<div class="banner info" role="status">${gapNotice}
        <button class="small ghost" @click=${() => { this.state.gapNotice = null; this.update(); }}>Dismiss</button></div>`);
    }
    return parts;
  }

  shell() {
    const route = this.state.route;
    const view = this.currentView();
    const spec = VIEWS.find((v) => v.id === route) || VIEWS[0];
    const missing = (spec.needs || []).filter((m) => !this.can(m));
    if (spec.needsAny && !spec.needsAny.some((m) => this.can(m))) missing.push(spec.needsAny.join(" or "));
    const nav = (event, id) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      this.go(id);
    };
    const themeIcon = this.theme === "dark" ? icons.moon : this.theme === "light" ? icons.sun : icons.auto;
    const server = this.hello?.server || {};
    const connected = this.state.phase === "connected";
    let group = null;
    const items = [];
    for (const v of VIEWS) {
      if (v.group !== group) {
        group = v.group;
        if (group) items.push(html`<li class="section" role="presentation">${group}</li>`);
      }
      const count = v.badge ? this.badges[v.badge] : 0;
      items.push(html`<li><a href=${this.href(v.id)} aria-current=${route === v.id ? "page" : "false"}
        data-nav=${v.id} @click=${(e) => nav(e, v.id)}>${icons[v.icon]}<span>${v.title}</span>
        ${count ? html`<span class="badge accent count" aria-label="${count} waiting">${count}</span>` : nothing}</a></li>`);
    }
    return html`<div class="shell ${this.state.navOpen ? "nav-open" : ""}">
      <a class="skip-link" href="#main">Skip to content</a>
      <aside class="sidebar" aria-label="Navigation">
        <div class="brand">
          <div class="avatar" aria-hidden="true">${this.assistant.avatar}</div>
          <div class="grow"><div class="name ellipsis">${this.assistant.name}</div>
            <div class="sub">OpenClaw Control</div></div>
        </div>
        <nav><ul class="nav">${items}</ul></nav>
        <footer>
          <div class="conn" data-conn=${this.state.phase}>
            <span class="dot ${connected ? "ok" : "warn"}"></span>
            <span class="grow ellipsis">${connected ? "Connected" : "Reconnecting…"}</span>
            <button class="icon ghost" title="Theme: ${this.theme}" aria-label="Theme: ${this.theme}"
              data-theme-toggle @click=${() => this.cycleTheme()}>${themeIcon}</button>
            <button class="icon ghost" title="Sign out" aria-label="Sign out" @click=${() => this.signOut()}>${icons.logout}</button>
          </div>
          <div class="faint small ellipsis" title=${`gateway ${server.version || "?"} · ui ${UI_BUILD_ID}`}>
            gateway ${server.version || "?"} · ui ${UI_VERSION}</div>
        </footer>
      </aside>
      ${this.state.navOpen ? html`<div class="scrim" @click=${() => { this.state.navOpen = false; this.update(); }}></div>` : nothing}
      <div class="main">
        <header class="topbar">
          <button class="icon ghost" aria-label="Menu" aria-expanded=${this.state.navOpen ? "true" : "false"}
            @click=${() => { this.state.navOpen = !this.state.navOpen; this.update(); }}>${icons.menu}</button>
          <span class="title">${spec.title}</span>
        </header>
        ${this.banner()}
        <main id="main" class="view" tabindex="-1" data-view=${spec.id}>
          ${missing.length
            ? html`<div class="view-inner"><div class="view-head"><h1>${spec.title}</h1></div>
                <div class="notice warn" data-unsupported>This gateway does not offer
                ${missing.map((m, i) => html`${i ? ", " : ""}<code>${m}</code>`)}, which this view needs.</div></div>`
            : view.render()}
        </main>
      </div>
    </div>`;
  }
}

export { App, RequestError };

const root = document.getElementById("app");
// Make the device identity early (first use takes a key generation), then start.
deviceIdentity().finally(() => {
  window.openclawControl = new App(root);
});
