// Exec approvals: commands an agent wants to run that need an operator's yes or no. New ones
// arrive as `exec.approval.requested` events; answering sends `exec.approval.resolve`.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { icons } from "../lib/icons.js";
import { ago, errorText } from "../lib/util.js";

const DECISIONS = [
  ["allow-once", "Allow once", "primary"],
  ["allow-always", "Always allow", ""],
  ["deny", "Deny", "danger"],
];

export class ApprovalsView {
  constructor(app) {
    this.app = app;
    this.pending = new Map();
    this.resolved = [];
    this.error = null;
    this.loaded = false;
  }

  async enter() {
    await this.load();
  }

  onEvent(name, payload) {
    if (name === "exec.approval.requested" && payload?.id) {
      this.pending.set(payload.id, payload);
    } else if (name === "exec.approval.resolved" && payload?.id) {
      const was = this.pending.get(payload.id);
      this.pending.delete(payload.id);
      this.resolved = [{ ...payload, request: payload.request || was?.request }, ...this.resolved].slice(0, 20);
    }
  }

  async load() {
    try {
      const list = await this.app.call("exec.approval.list", {});
      this.pending = new Map((Array.isArray(list) ? list : list?.approvals || []).map((a) => [a.id, a]));
      this.app.badges.approvals = this.pending.size;
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.loaded = true;
    this.app.update();
  }

  async resolve(approval, decision) {
    try {
      await this.app.act("exec.approval.resolve", { id: approval.id, decision });
    } catch {
      this.load();
      return;
    }
    this.pending.delete(approval.id);
    this.resolved = [{ id: approval.id, decision, ts: Date.now(), request: approval.request }, ...this.resolved].slice(0, 20);
    this.app.badges.approvals = this.pending.size;
    this.app.update();
  }

  render() {
    const now = Date.now();
    const items = [...this.pending.values()].sort((a, b) => (a.createdAtMs || 0) - (b.createdAtMs || 0));
    return html`<div class="view-inner">
      <div class="view-head"><h1>Exec approvals</h1>
        <button @click=${() => this.load()}>${icons.refresh} Refresh</button></div>
      <p class="view-sub">Commands waiting for your decision. They arrive here live.</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div data-approvals>
      ${items.length ? items.map((a) => {
        const r = a.request || {};
        const allowed = r.allowedDecisions || DECISIONS.map((d) => d[0]);
        const expires = a.expiresAtMs ? Math.max(0, a.expiresAtMs - now) : null;
        return html`<div class="card" data-approval=${a.id}>
          <header><strong>${r.agentId ? `Agent ${r.agentId}` : "A command"}</strong> wants to run
            <span class="badge">${r.host || "gateway"}</span><span class="spacer"></span>
            ${expires !== null ? html`<span class="badge warn">expires ${ago(a.expiresAtMs, now)}</span>` : nothing}</header>
          <pre class="mono">${r.commandPreview || r.command || (r.commandArgv || []).join(" ")}</pre>
          <dl class="kv small">
            ${r.cwd ? html`<dt>In</dt><dd class="mono">${r.cwd}</dd>` : nothing}
            ${r.sessionKey ? html`<dt>Session</dt><dd class="mono">${r.sessionKey}</dd>` : nothing}
            ${r.warningText ? html`<dt>Warning</dt><dd>${r.warningText}</dd>` : nothing}
            <dt>Asked</dt><dd>${ago(a.createdAtMs, now)}</dd>
          </dl>
          <div class="row end">${DECISIONS.filter(([d]) => allowed.includes(d)).map(([d, label, cls]) => html`<button class=${cls}
            data-decision=${d} @click=${() => this.resolve(a, d)}>${label}</button>`)}</div>
        </div>`;
      }) : html`<div class="card empty">${this.loaded ? "Nothing is waiting for approval." : "Loading…"}</div>`}
      </div>
      ${this.resolved.length ? html`<div class="view-head"><h2>Recently decided</h2></div>
        <div class="table-wrap"><table><thead><tr><th>Command</th><th>Decision</th><th>When</th></tr></thead>
        <tbody>${this.resolved.map((r) => html`<tr><td class="mono small">${r.request?.command || r.id}</td>
          <td><span class="badge ${r.decision === "deny" ? "err" : r.decision ? "ok" : ""}">${r.decision || "expired"}</span></td>
          <td>${ago(r.ts)}</td></tr>`)}</tbody></table></div>` : nothing}
    </div>`;
  }
}
