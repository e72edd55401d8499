// Instances: who is connected (presence: the gateway itself, Control UIs, apps, nodes), kept
// live by `presence` events, plus the paired nodes.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { icons } from "../lib/icons.js";
import { ago, errorText } from "../lib/util.js";

export class InstancesView {
  constructor(app) {
    this.app = app;
    this.presence = null;
    this.nodes = null;
    this.error = null;
  }

  async enter() {
    const snapshot = this.app.hello?.snapshot?.presence;
    if (!this.presence && Array.isArray(snapshot)) this.presence = snapshot;
    await Promise.all([this.load(), this.loadNodes()]);
  }

  onEvent(name, payload) {
    if (name === "presence" && Array.isArray(payload?.presence)) {
      this.presence = payload.presence;
    }
  }

  async load() {
    try {
      const result = await this.app.call("system-presence", {});
      this.presence = Array.isArray(result) ? result : result?.presence || [];
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.app.update();
  }

  async loadNodes() {
    if (!this.app.can("node.list")) return;
    try {
      this.nodes = (await this.app.call("node.list", {}))?.nodes || [];
    } catch {
      this.nodes = null;
    }
    this.app.update();
  }

  render() {
    const rows = this.presence || [];
    const self = this.app.client?.identity?.deviceId;
    return html`<div class="view-inner">
      <div class="view-head"><h1>Instances</h1>
        <button @click=${() => this.enter()}>${icons.refresh} Refresh</button></div>
      <p class="view-sub">The gateway and the clients connected to it, updated live.</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div class="table-wrap"><table data-presence>
        <thead><tr><th>Instance</th><th>Mode</th><th class="hide-narrow">Platform</th><th class="hide-narrow">Version</th><th>Seen</th></tr></thead>
        <tbody>${rows.length ? rows.map((p) => html`<tr data-mode=${p.mode || ""}>
          <td><strong>${p.host || p.clientId || p.instanceId || "?"}</strong>
            ${p.deviceId && p.deviceId === self ? html` <span class="badge accent">this browser</span>` : nothing}
            ${p.reason === "disconnect" ? html` <span class="badge">disconnected</span>` : nothing}
            <div class="muted small">${p.ip || ""} ${p.text && p.mode !== "gateway" ? "" : ""}</div></td>
          <td><span class="badge ${p.mode === "gateway" ? "info" : ""}">${p.mode || "—"}</span>
            ${(p.roles || []).map((r) => html` <span class="badge">${r}</span>`)}</td>
          <td class="hide-narrow">${p.platform || "—"}${p.deviceFamily ? html` <span class="muted">${p.deviceFamily}</span>` : nothing}</td>
          <td class="hide-narrow mono">${p.version || "—"}</td>
          <td class="nowrap">${ago(p.ts)}</td></tr>`)
          : html`<tr><td colspan="5" class="empty">Nobody is connected.</td></tr>`}</tbody></table></div>
      ${this.nodes ? html`<div class="view-head"><h2>Nodes</h2></div>
        <p class="view-sub">Paired devices that run commands for the gateway.</p>
        <div class="table-wrap"><table data-nodes><thead><tr><th>Node</th><th>State</th><th class="hide-narrow">Platform</th><th class="hide-narrow">Capabilities</th></tr></thead>
        <tbody>${this.nodes.length ? this.nodes.map((n) => html`<tr>
          <td><strong>${n.displayName || n.nodeId}</strong><div class="muted small mono">${n.nodeId}</div></td>
          <td><span class="badge ${n.connected ? "ok" : ""}">${n.connected ? "connected" : n.approvalState || "offline"}</span></td>
          <td class="hide-narrow">${n.platform || "—"}</td>
          <td class="hide-narrow small">${(n.caps || []).join(", ") || "—"}</td></tr>`)
          : html`<tr><td colspan="4" class="empty">No nodes are paired.</td></tr>`}</tbody></table></div>` : nothing}
    </div>`;
  }
}
