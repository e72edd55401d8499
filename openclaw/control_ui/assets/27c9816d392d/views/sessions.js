// Sessions: every session with its last message, token use and state; open it in the chat,
// reset it (a fresh transcript), compact it, delete it.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { confirmDialog } from "../lib/dialog.js";
import { icons } from "../lib/icons.js";
import { ago, errorText, tokens } from "../lib/util.js";

export class SessionsView {
  constructor(app) {
    this.app = app;
    this.result = null;
    this.previews = new Map();
    this.filter = "";
    this.error = null;
    this.loading = false;
    this.subscribed = false;
  }

  async enter() {
    await this.load();
    if (this.app.can("sessions.subscribe") && !this.subscribed) {
      try {
        await this.app.call("sessions.subscribe", {});
        this.subscribed = true;
      } catch {
        // events are a nicety: the Refresh button still works
      }
    }
  }

  leave() {}

  onEvent(name) {
    if (name === "sessions.changed" && this.app.state.route === "sessions") {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.load(), 400);
    }
  }

  async load() {
    this.loading = true;
    this.app.update();
    try {
      this.result = await this.app.call("sessions.list", {
        limit: 200,
        includeDerivedTitles: true,
        includeLastMessage: true,
      });
      this.error = null;
      this.loadPreviews();
    } catch (error) {
      this.error = errorText(error);
    }
    this.loading = false;
    this.app.update();
  }

  async loadPreviews() {
    const rows = this.result?.sessions || [];
    const keys = rows.filter((r) => !r.lastMessagePreview).map((r) => r.key).slice(0, 50);
    if (!keys.length || !this.app.can("sessions.preview")) return;
    try {
      const result = await this.app.call("sessions.preview", { keys, limit: 2, maxChars: 160 });
      for (const p of result?.previews || []) this.previews.set(p.key, p);
      this.app.update();
    } catch {
      // previews are optional
    }
  }

  preview(row) {
    if (row.lastMessagePreview) return row.lastMessagePreview;
    const p = this.previews.get(row.key);
    if (!p || !p.items?.length) return "";
    const last = p.items[p.items.length - 1];
    return `${last.role === "user" ? "You: " : ""}${last.text || ""}`;
  }

  async reset(row) {
    const ok = await confirmDialog({
      title: "Reset this session?",
      body: `${row.key} starts over with an empty transcript (the old one is archived).`,
      confirmLabel: "Reset",
      danger: true,
    });
    if (!ok) return;
    try {
      await this.app.act("sessions.reset", { key: row.key }, { ok: `Reset ${row.key}` });
    } catch {
      return;
    }
    this.load();
  }

  async compact(row) {
    try {
      const result = await this.app.act("sessions.compact", { key: row.key });
      const what = result?.compacted === false ? "nothing to compact" : "compacted";
      this.app.toast(`${row.key}: ${what}`, "ok");
    } catch {
      return;
    }
    this.load();
  }

  async remove(row) {
    const ok = await confirmDialog({
      title: "Delete this session?",
      body: `${row.key} and its transcript are removed.`,
      confirmLabel: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await this.app.act("sessions.delete", { key: row.key, deleteTranscript: true }, { ok: `Deleted ${row.key}` });
    } catch {
      return;
    }
    this.load();
  }

  open(row) {
    const chat = this.app.views.get("chat") || null;
    this.app.go("chat");
    const view = chat || this.app.views.get("chat");
    const agent = /^agent:([^:]+):/.exec(row.key);
    if (agent) view.agentId = agent[1];
    view.selectSession(row.key);
  }

  render() {
    const rows = (this.result?.sessions || []).filter((r) => {
      if (!this.filter) return true;
      const f = this.filter.toLowerCase();
      return [r.key, r.label, r.displayName, r.derivedTitle, r.kind, r.channel, this.preview(r)]
        .some((v) => typeof v === "string" && v.toLowerCase().includes(f));
    });
    const running = rows.filter((r) => r.status === "running" || r.hasActiveRun).length;
    return html`<div class="view-inner">
      <div class="view-head"><h1>Sessions</h1>
        ${this.loading ? html`<span class="spinner muted"></span>` : nothing}
        <button @click=${() => this.load()}>${icons.refresh} Refresh</button></div>
      <p class="view-sub">Conversations the gateway keeps, newest first.
        <span class="badge">${this.result?.count ?? rows.length} sessions</span>
        ${running ? html`<span class="badge ok">${running} running</span>` : nothing}</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div class="row toolbar">
        <input class="grow" type="search" placeholder="Filter by key, label, kind, message…" aria-label="Filter sessions"
          .value=${this.filter} @input=${(e) => { this.filter = e.target.value; this.app.update(); }}>
      </div>
      <div class="table-wrap"><table class="stack" data-sessions>
        <thead><tr><th>Session</th><th class="hide-narrow">Kind</th><th>Updated</th>
          <th class="num hide-narrow">Tokens</th><th class="actions"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          ${rows.length ? rows.map((r) => html`<tr data-session-key=${r.key}>
            <td class="grow">
              <div><a href=${this.app.href("chat")} class="mono" @click=${(e) => { e.preventDefault(); this.open(r); }}>${r.key}</a>
                ${r.label || r.displayName || r.derivedTitle ? html` <span class="muted">${r.label || r.displayName || r.derivedTitle}</span>` : nothing}
                ${r.status === "running" || r.hasActiveRun ? html`<span class="badge ok">running</span>` : nothing}</div>
              <div class="muted small ellipsis" data-preview>${this.preview(r) || "—"}</div>
            </td>
            <td class="hide-narrow"><span class="badge">${r.kind || "direct"}</span>${r.channel ? html` <span class="badge info">${r.channel}</span>` : nothing}</td>
            <td class="nowrap">${ago(r.updatedAt)}</td>
            <td class="num hide-narrow">${tokens(r.totalTokens)}${r.contextTokens ? html`<span class="faint"> / ${tokens(r.contextTokens)}</span>` : nothing}</td>
            <td class="actions">
              <button class="small" @click=${() => this.open(r)}>Open</button>
              ${this.app.can("sessions.compact") ? html`<button class="small" @click=${() => this.compact(r)}>Compact</button>` : nothing}
              ${this.app.can("sessions.reset") ? html`<button class="small" @click=${() => this.reset(r)}>Reset</button>` : nothing}
              ${this.app.can("sessions.delete") ? html`<button class="small danger" @click=${() => this.remove(r)}>Delete</button>` : nothing}
            </td></tr>`)
            : html`<tr><td colspan="5" class="empty">${this.loading ? "Loading…" : "No sessions yet."}</td></tr>`}
        </tbody></table></div>
    </div>`;
  }
}
