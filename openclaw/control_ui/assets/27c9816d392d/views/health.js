// Health: the gateway's health summary (kept live by `health` events), status and the last
// heartbeat.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { icons } from "../lib/icons.js";
import { ago, duration, errorText } from "../lib/util.js";

export class HealthView {
  constructor(app) {
    this.app = app;
    this.health = null;
    this.status = null;
    this.heartbeat = undefined;
    this.error = null;
  }

  async enter() {
    const snapshot = this.app.hello?.snapshot?.health;
    if (!this.health && snapshot && Object.keys(snapshot).length) this.health = snapshot;
    await Promise.all([this.load(false), this.loadStatus()]);
  }

  onEvent(name, payload) {
    if (name === "health" && payload) this.health = payload;
  }

  async load(probe) {
    this.busy = true;
    this.app.update();
    try {
      this.health = await this.app.call("health", probe ? { probe: true } : {});
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.busy = false;
    this.app.update();
  }

  async loadStatus() {
    if (this.app.can("status")) {
      try {
        this.status = await this.app.call("status", {});
      } catch {
        this.status = null;
      }
    }
    if (this.app.can("last-heartbeat")) {
      try {
        this.heartbeat = await this.app.call("last-heartbeat", {});
      } catch {
        this.heartbeat = undefined;
      }
    }
    this.app.update();
  }

  render() {
    const h = this.health || {};
    const hello = this.app.hello || {};
    const uptime = hello.snapshot?.uptimeMs;
    const agents = h.agents || [];
    const channels = h.channelOrder?.length ? h.channelOrder : Object.keys(h.channels || {});
    return html`<div class="view-inner">
      <div class="view-head"><h1>Health</h1>
        ${this.busy ? html`<span class="spinner muted"></span>` : nothing}
        <button @click=${() => this.load(true)}>${icons.refresh} Check now</button></div>
      <p class="view-sub">Is the gateway well? Updated live while you watch.</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div class="cards" data-health>
        <div class="stat"><div class="label">Gateway</div>
          <div class="value">${h.ok === false ? html`<span class="dot err"></span> failing` : h.ok ? html`<span class="dot ok"></span> ok` : "…"}</div>
          <div class="sub">checked ${ago(h.ts)}${h.durationMs !== undefined ? ` in ${h.durationMs} ms` : ""}</div></div>
        <div class="stat"><div class="label">Version</div><div class="value">${hello.server?.version || "?"}</div>
          <div class="sub">protocol ${hello.protocol}${uptime ? ` · up ${duration(uptime)} at connect` : ""}</div></div>
        <div class="stat"><div class="label">Agents</div><div class="value">${agents.length}</div>
          <div class="sub">default ${h.defaultAgentId || "—"}</div></div>
        <div class="stat"><div class="label">Sessions</div><div class="value">${h.sessions?.count ?? "—"}</div>
          <div class="sub">heartbeat every ${h.heartbeatSeconds ? duration(h.heartbeatSeconds * 1000) : "—"}</div></div>
        ${h.eventLoop ? html`<div class="stat"><div class="label">Event loop</div>
          <div class="value">${h.eventLoop.degraded ? "degraded" : "ok"}</div>
          <div class="sub">p99 delay ${h.eventLoop.delayP99Ms ?? "?"} ms</div></div>` : nothing}
      </div>
      <div class="card"><header><h2>Agents</h2></header>
        ${agents.length ? html`<div class="table-wrap"><table><thead><tr><th>Agent</th><th>Sessions</th><th class="hide-narrow">Heartbeat</th><th class="hide-narrow">Recent</th></tr></thead><tbody>
          ${agents.map((a) => html`<tr><td><strong>${a.name || a.agentId}</strong>${a.isDefault ? html` <span class="badge accent">default</span>` : nothing}</td>
            <td>${a.sessions?.count ?? "—"}</td>
            <td class="hide-narrow">${a.heartbeat?.enabled === false ? "off" : a.heartbeat?.every || "—"}</td>
            <td class="hide-narrow small">${(a.sessions?.recent || []).slice(0, 3).map((r) => html`<div class="mono">${r.key} <span class="faint">${ago(r.updatedAt)}</span></div>`)}</td></tr>`)}
        </tbody></table></div>` : html`<div class="empty">No agents.</div>`}
      </div>
      <div class="card"><header><h2>Channels</h2></header>
        ${channels.length ? html`<dl class="kv">${channels.map((id) => {
          const c = h.channels?.[id] || {};
          return html`<dt>${h.channelLabels?.[id] || id}</dt><dd>${c.linked === false ? "not linked" : c.configured === false ? "not configured" : "configured"}
            ${c.probe ? html` · probe ${c.probe.ok === false ? "failed" : "ok"}` : nothing}</dd>`;
        })}</dl>` : html`<div class="muted">No channels configured.</div>`}
      </div>
      <div class="card"><header><h2>Last heartbeat</h2></header>
        ${this.heartbeat ? html`<dl class="kv"><dt>Status</dt><dd>${this.heartbeat.status}</dd><dt>When</dt><dd>${ago(this.heartbeat.ts)}</dd>
          ${this.heartbeat.reason ? html`<dt>Reason</dt><dd>${this.heartbeat.reason}</dd>` : nothing}</dl>`
          : html`<div class="muted">${this.heartbeat === null ? "No heartbeat has run yet." : "—"}</div>`}
      </div>
      ${this.status ? html`<details class="card"><summary><strong>Status report</strong></summary>
        <pre class="small">${JSON.stringify(this.status, null, 2)}</pre></details>` : nothing}
    </div>`;
  }
}
