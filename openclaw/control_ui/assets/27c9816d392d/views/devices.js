// Devices: browsers, CLIs and apps paired with the gateway, and the pairing requests waiting
// for approval (`device.pair.requested` events bring new ones).

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { confirmDialog } from "../lib/dialog.js";
import { icons } from "../lib/icons.js";
import { ago, errorText } from "../lib/util.js";

export class DevicesView {
  constructor(app) {
    this.app = app;
    this.data = null;
    this.error = null;
  }

  async enter() {
    await this.load();
  }

  onEvent(name) {
    if ((name === "device.pair.requested" || name === "device.pair.resolved") && this.app.state.route === "devices") {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.load(), 200);
    }
  }

  async load() {
    try {
      this.data = await this.app.call("device.pair.list", {});
      this.app.badges.devices = (this.data?.pending || []).length;
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.app.update();
  }

  async approve(request) {
    try {
      await this.app.act("device.pair.approve", { requestId: request.requestId }, { ok: `Approved ${request.displayName || request.clientId || "device"}` });
    } catch {
      // toast shown
    }
    this.load();
  }

  async reject(request) {
    try {
      await this.app.act("device.pair.reject", { requestId: request.requestId });
    } catch {
      // toast shown
    }
    this.load();
  }

  async remove(device) {
    const self = this.app.client?.identity?.deviceId === device.deviceId;
    const ok = await confirmDialog({
      title: "Remove this device?",
      body: self ? "This is the browser you are using: it will have to pair again." : `${device.displayName || device.clientId || device.deviceId} loses access until paired again.`,
      confirmLabel: "Remove",
      danger: true,
    });
    if (!ok) return;
    try {
      await this.app.act("device.pair.remove", { deviceId: device.deviceId }, { ok: "Removed" });
    } catch {
      // toast shown
    }
    this.load();
  }

  render() {
    const pending = this.data?.pending || [];
    const paired = this.data?.paired || [];
    const self = this.app.client?.identity?.deviceId;
    return html`<div class="view-inner">
      <div class="view-head"><h1>Devices</h1>
        <button @click=${() => this.load()}>${icons.refresh} Refresh</button></div>
      <p class="view-sub">Every browser, CLI and app that talks to the gateway has a device identity
        that an operator approves once (loopback connections are approved silently).</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div class="card"><header><h2>Waiting for approval</h2>${pending.length ? html`<span class="badge accent">${pending.length}</span>` : nothing}</header>
        ${pending.length ? html`<div class="table-wrap"><table class="stack" data-pending-devices>
          <thead><tr><th>Device</th><th class="hide-narrow">Asks for</th><th>Requested</th><th class="actions"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${pending.map((p) => html`<tr data-request-id=${p.requestId}>
            <td><strong>${p.displayName || p.clientId || "device"}</strong> <span class="muted small">${p.platform || ""}</span>
              <div class="muted small mono ellipsis">${p.deviceId}</div>${p.remoteIp ? html`<div class="faint small">from ${p.remoteIp}</div>` : nothing}</td>
            <td class="hide-narrow small">${p.role || (p.roles || []).join(", ")}<div class="faint">${(p.scopes || []).join(", ")}</div></td>
            <td class="nowrap">${ago(p.ts || p.createdAtMs)}</td>
            <td class="actions"><button class="small primary" data-approve @click=${() => this.approve(p)}>Approve</button>
              <button class="small danger" @click=${() => this.reject(p)}>Reject</button></td></tr>`)}</tbody></table></div>`
          : html`<div class="muted">No device is waiting.</div>`}
      </div>
      <div class="card"><header><h2>Paired</h2><span class="badge">${paired.length}</span></header>
        ${paired.length ? html`<div class="table-wrap"><table class="stack" data-paired-devices>
          <thead><tr><th>Device</th><th class="hide-narrow">Role</th><th>Last seen</th><th class="actions"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${paired.map((d) => html`<tr data-device-id=${d.deviceId}>
            <td><strong>${d.displayName || d.clientId || "device"}</strong>
              ${d.deviceId === self ? html` <span class="badge accent">this browser</span>` : nothing}
              ${d.connected ? html` <span class="badge ok">connected</span>` : nothing}
              <div class="muted small">${d.platform || ""}${d.clientMode ? ` · ${d.clientMode}` : ""}${d.approvedVia ? ` · ${d.approvedVia === "silent" ? "auto-paired" : `approved ${ago(d.approvedAtMs)}`}` : ""}</div>
              <div class="faint small mono ellipsis">${d.deviceId}</div></td>
            <td class="hide-narrow small">${d.role || (d.roles || []).join(", ")}<div class="faint">${(d.scopes || []).filter((s) => !s.startsWith("…")).join(", ")}</div></td>
            <td class="nowrap">${ago(d.lastSeenAtMs || d.approvedAtMs)}</td>
            <td class="actions">${this.app.can("device.pair.remove") ? html`<button class="small danger" @click=${() => this.remove(d)}>Remove</button>` : nothing}</td></tr>`)}</tbody></table></div>`
          : html`<div class="muted">No paired devices.</div>`}
      </div>
    </div>`;
  }
}
