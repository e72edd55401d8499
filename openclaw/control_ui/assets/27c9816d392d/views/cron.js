// Cron jobs: scheduled agent turns and system events; run now, pause/resume, remove, add, and
// the run history. Kept fresh by `cron` events.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { confirmDialog } from "../lib/dialog.js";
import { icons } from "../lib/icons.js";
import { ago, duration, errorText } from "../lib/util.js";

function scheduleText(s) {
  if (!s) return "—";
  if (s.kind === "every") return `every ${duration(s.everyMs)}`;
  if (s.kind === "cron") return `cron ${s.expr}${s.tz ? ` (${s.tz})` : ""}`;
  if (s.kind === "at") return `at ${new Date(s.at).toLocaleString()}`;
  return s.kind || "—";
}

export class CronView {
  constructor(app) {
    this.app = app;
    this.status = null;
    this.jobs = null;
    this.runs = null;
    this.error = null;
    this.showForm = false;
    this.form = { name: "", kind: "every", every: 60, expr: "0 9 * * *", at: "", payload: "agentTurn", text: "", agentId: "" };
  }

  async enter() {
    await Promise.all([this.load(), this.loadRuns()]);
  }

  onEvent(name) {
    if (name === "cron" && this.app.state.route === "cron") {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.enter(), 300);
    }
  }

  async load() {
    try {
      const [status, list] = await Promise.all([
        this.app.can("cron.status") ? this.app.call("cron.status", {}) : null,
        this.app.call("cron.list", { includeDisabled: true, limit: 200 }),
      ]);
      this.status = status;
      this.jobs = list?.jobs || [];
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.app.update();
  }

  async loadRuns() {
    if (!this.app.can("cron.runs")) return;
    try {
      this.runs = (await this.app.call("cron.runs", { scope: "all", limit: 50, sortDir: "desc" }))?.entries || [];
    } catch {
      this.runs = null;
    }
    this.app.update();
  }

  async runNow(job) {
    try {
      await this.app.act("cron.run", { id: job.id, mode: "force" }, { ok: `Started ${job.displayName || job.name}` });
    } catch {
      // toast shown
    }
  }

  async toggle(job) {
    try {
      await this.app.act("cron.update", { id: job.id, patch: { enabled: !job.enabled } });
    } catch {
      return;
    }
    this.load();
  }

  async remove(job) {
    const ok = await confirmDialog({ title: `Remove ${job.displayName || job.name}?`, confirmLabel: "Remove", danger: true });
    if (!ok) return;
    try {
      await this.app.act("cron.remove", { id: job.id }, { ok: "Removed" });
    } catch {
      return;
    }
    this.load();
  }

  async add(event) {
    event.preventDefault();
    const f = this.form;
    let schedule;
    if (f.kind === "every") schedule = { kind: "every", everyMs: Math.max(1, Number(f.every) || 60) * 60000 };
    else if (f.kind === "cron") schedule = { kind: "cron", expr: f.expr };
    else schedule = { kind: "at", at: new Date(f.at).toISOString() };
    const params = {
      name: f.name.trim() || "job",
      schedule,
      sessionTarget: f.payload === "agentTurn" ? "isolated" : "main",
      wakeMode: "now",
      payload: f.payload === "agentTurn" ? { kind: "agentTurn", message: f.text } : { kind: "systemEvent", text: f.text },
      enabled: true,
    };
    if (f.payload === "agentTurn") params.delivery = { mode: "none" };
    if (f.agentId) params.agentId = f.agentId;
    try {
      await this.app.act("cron.add", params, { ok: `Added ${params.name}` });
    } catch {
      return;
    }
    this.showForm = false;
    this.form = { ...this.form, name: "", text: "" };
    this.load();
  }

  renderForm() {
    const f = this.form;
    const set = (key) => (e) => { this.form = { ...this.form, [key]: e.target.value }; this.app.update(); };
    const agents = this.app.agents?.agents || [];
    return html`<form class="card" @submit=${(e) => this.add(e)} data-cron-form>
      <header><h2>New job</h2></header>
      <label class="field"><span>Name</span><input required .value=${f.name} @input=${set("name")}></label>
      <div class="row">
        <label class="field"><span>Schedule</span><select .value=${f.kind} @change=${set("kind")}>
          <option value="every">Every N minutes</option><option value="cron">Cron expression</option><option value="at">Once, at</option></select></label>
        ${f.kind === "every" ? html`<label class="field"><span>Minutes</span><input type="number" min="1" .value=${String(f.every)} @input=${set("every")}></label>`
          : f.kind === "cron" ? html`<label class="field"><span>Expression</span><input .value=${f.expr} @input=${set("expr")} placeholder="0 9 * * *"></label>`
          : html`<label class="field"><span>When</span><input type="datetime-local" required .value=${f.at} @input=${set("at")}></label>`}
        <label class="field"><span>Does</span><select .value=${f.payload} @change=${set("payload")}>
          <option value="agentTurn">Agent turn (own session)</option><option value="systemEvent">System event (main session)</option></select></label>
        ${agents.length > 1 ? html`<label class="field"><span>Agent</span><select .value=${f.agentId} @change=${set("agentId")}>
          <option value="">default</option>${agents.map((a) => html`<option value=${a.id}>${a.id}</option>`)}</select></label>` : nothing}
      </div>
      <label class="field"><span>${f.payload === "agentTurn" ? "Message to the agent" : "Event text"}</span>
        <textarea required rows="3" .value=${f.text} @input=${set("text")}></textarea></label>
      <div class="row end"><button type="button" @click=${() => { this.showForm = false; this.app.update(); }}>Cancel</button>
        <button class="primary" type="submit">Add job</button></div>
    </form>`;
  }

  render() {
    const jobs = this.jobs || [];
    const s = this.status;
    const canAdd = this.app.can("cron.add");
    return html`<div class="view-inner">
      <div class="view-head"><h1>Cron jobs</h1>
        <button @click=${() => this.enter()}>${icons.refresh} Refresh</button>
        ${canAdd ? html`<button class="primary" @click=${() => { this.showForm = !this.showForm; this.app.update(); }}>${icons.plus} New job</button>` : nothing}</div>
      <p class="view-sub">Scheduled agent turns and reminders.
        ${s ? html`Scheduler <span class="badge ${s.enabled ? "ok" : "warn"}">${s.enabled ? "on" : "off"}</span>
          ${s.nextWakeAtMs ? html` · next wake ${ago(s.nextWakeAtMs)}` : nothing}` : nothing}</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      ${this.showForm ? this.renderForm() : nothing}
      <div class="table-wrap"><table class="stack" data-cron-jobs>
        <thead><tr><th>Job</th><th>Schedule</th><th class="hide-narrow">Next run</th><th class="hide-narrow">Last run</th><th class="actions"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${jobs.length ? jobs.map((j) => html`<tr data-job=${j.id}>
          <td><span class="dot ${j.enabled ? "ok" : ""}"></span> <strong>${j.displayName || j.name}</strong>
            ${j.agentId ? html`<div class="muted small">agent ${j.agentId}</div>` : nothing}</td>
          <td>${scheduleText(j.schedule)}</td>
          <td class="hide-narrow">${j.enabled ? ago(j.nextRunAtMs ?? j.state?.nextRunAtMs) : "paused"}</td>
          <td class="hide-narrow">${(j.lastRunAtMs ?? j.state?.lastRunAtMs) ? html`${ago(j.lastRunAtMs ?? j.state?.lastRunAtMs)}
            <span class="badge ${(j.lastRunStatus ?? j.state?.lastRunStatus) === "ok" ? "ok" : "err"}">${j.lastRunStatus ?? j.state?.lastRunStatus}</span>
            ${j.lastRunError ?? j.state?.lastError ? html`<div class="muted small">${j.lastRunError ?? j.state?.lastError}</div>` : nothing}` : "n/a"}</td>
          <td class="actions">
            ${this.app.can("cron.run") ? html`<button class="small" @click=${() => this.runNow(j)}>Run now</button>` : nothing}
            ${this.app.can("cron.update") ? html`<button class="small" @click=${() => this.toggle(j)}>${j.enabled ? "Pause" : "Resume"}</button>` : nothing}
            ${this.app.can("cron.remove") ? html`<button class="small danger" @click=${() => this.remove(j)}>Remove</button>` : nothing}
          </td></tr>`) : html`<tr><td colspan="5" class="empty">${this.jobs ? "No cron jobs." : "Loading…"}</td></tr>`}</tbody></table></div>
      ${this.runs ? html`<div class="view-head"><h2>Recent runs</h2></div>
        <div class="table-wrap"><table data-cron-runs><thead><tr><th>When</th><th>Job</th><th>Status</th><th class="hide-narrow">Summary</th></tr></thead>
        <tbody>${this.runs.length ? this.runs.map((r) => html`<tr><td class="nowrap">${ago(r.runAtMs || r.ts)}</td>
          <td class="mono small">${(jobs.find((j) => j.id === r.jobId) || {}).name || r.jobId}</td>
          <td><span class="badge ${r.status === "ok" ? "ok" : r.status === "skipped" ? "" : "err"}">${r.status}</span>
            ${r.durationMs ? html` <span class="faint small">${duration(r.durationMs)}</span>` : nothing}</td>
          <td class="hide-narrow small">${r.error || r.summary || ""}</td></tr>`)
          : html`<tr><td colspan="4" class="empty">No runs yet.</td></tr>`}</tbody></table></div>` : nothing}
    </div>`;
  }
}
