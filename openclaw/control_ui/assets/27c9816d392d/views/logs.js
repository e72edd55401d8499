// Logs: the gateway's JSON-lines log through `logs.tail`, followed live (a cursor poll), with a
// level filter and a text search.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { ref } from "../vendor/lit-html/directives/ref.js";
import { icons } from "../lib/icons.js";
import { clock, errorText } from "../lib/util.js";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
const FOLLOW_MS = 2000;
const KEEP = 2000;

function subsystemFrom(text) {
  if (typeof text !== "string" || !text.startsWith("{")) return null;
  try {
    const parsed = JSON.parse(text);
    return typeof parsed?.subsystem === "string" ? parsed.subsystem : null;
  } catch {
    return null;
  }
}

/** One log line (tslog-style JSON or plain text) as {time, level, subsystem, message}. */
export function parseLogLine(line) {
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    return { time: null, level: "info", subsystem: "", message: line, raw: line };
  }
  if (!record || typeof record !== "object") return { time: null, level: "info", subsystem: "", message: String(line), raw: line };
  const meta = record._meta || {};
  let level = String(meta.logLevelName || record.level || "info").toLowerCase();
  if (level === "warning") level = "warn";
  if (!LEVELS.includes(level)) level = "info";
  const time = Date.parse(record.time || meta.date || "") || null;
  let subsystem = subsystemFrom(meta.name) || "";
  const parts = [];
  for (let i = 0; i in record || String(i) in record; i += 1) {
    const value = record[String(i)];
    if (i === 0 && subsystemFrom(value)) {
      subsystem = subsystem || subsystemFrom(value);
      continue;
    }
    parts.push(typeof value === "string" ? value : JSON.stringify(value));
  }
  const message = typeof record.message === "string" && !parts.length ? record.message
    : parts.join(" ") || record.message || record.msg || "";
  return { time, level, subsystem, message, raw: line };
}

export class LogsView {
  constructor(app) {
    this.app = app;
    this.lines = [];
    this.cursor = null;
    this.file = "";
    this.follow = true;
    this.levels = new Set(LEVELS);
    this.query = "";
    this.error = null;
    this.timer = 0;
    this.scrollEl = null;
    this.stick = true;
    this.busy = false;
  }

  enter({ reconnect } = {}) {
    if (reconnect) this.cursor = null;
    this.poll(true);
  }

  leave() {
    clearTimeout(this.timer);
  }

  async poll(first = false) {
    clearTimeout(this.timer);
    if (this.busy) return;
    this.busy = true;
    try {
      const params = { limit: first ? 500 : 1000, maxBytes: 250000 };
      if (this.cursor !== null && !first) params.cursor = this.cursor;
      const result = await this.app.call("logs.tail", params);
      if (first || result?.reset) this.lines = [];
      this.file = result?.file || this.file;
      this.cursor = typeof result?.cursor === "number" ? result.cursor : this.cursor;
      const fresh = (result?.lines || []).map(parseLogLine);
      this.lines = [...this.lines, ...fresh].slice(-KEEP);
      this.truncated = Boolean(result?.truncated);
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.busy = false;
    this.app.update();
    if (this.stick) {
      requestAnimationFrame(() => {
        if (this.scrollEl) this.scrollEl.scrollTop = this.scrollEl.scrollHeight;
      });
    }
    if (this.follow && this.app.state.route === "logs") {
      this.timer = setTimeout(() => this.poll(), FOLLOW_MS);
    }
  }

  setFollow(on) {
    this.follow = on;
    clearTimeout(this.timer);
    if (on) {
      this.stick = true;
      this.poll();
    }
    this.app.update();
  }

  toggleLevel(level) {
    if (this.levels.has(level)) this.levels.delete(level);
    else this.levels.add(level);
    this.app.update();
  }

  render() {
    const q = this.query.toLowerCase();
    const shown = this.lines.filter((l) => this.levels.has(l.level) &&
      (!q || l.message.toLowerCase().includes(q) || l.subsystem.toLowerCase().includes(q)));
    return html`<div class="view-inner">
      <div class="view-head"><h1>Logs</h1>
        <button @click=${() => this.poll(true)}>${icons.refresh} Reload</button></div>
      <p class="view-sub">The gateway's log file${this.file ? html` <code>${this.file}</code>` : nothing}.</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div class="card">
        <div class="row">
          <fieldset class="row" aria-label="Levels" data-levels>
            ${LEVELS.map((level) => html`<label class="badge"><input type="checkbox" data-level=${level}
              .checked=${this.levels.has(level)} @change=${() => this.toggleLevel(level)}>${level}</label>`)}
          </fieldset>
          <span class="spacer"></span>
          <input type="search" placeholder="Search logs" aria-label="Search logs" .value=${this.query}
            @input=${(e) => { this.query = e.target.value; this.app.update(); }}>
          <label class="badge ${this.follow ? "ok" : ""}"><input type="checkbox" data-follow .checked=${this.follow}
            @change=${(e) => this.setFollow(e.target.checked)}> Follow</label>
        </div>
      </div>
      <div class="table-wrap logs log-scroll" data-logs ${ref((el) => { this.scrollEl = el; })}
        @scroll=${(e) => { const el = e.target; this.stick = el.scrollHeight - el.scrollTop - el.clientHeight < 40; }}>
        ${shown.length ? shown.map((l) => html`<div class="log-line" data-log-level=${l.level}>
          <span class="faint">${clock(l.time)}</span><span class="lvl ${l.level}">${l.level}</span>
          <span class="subsystem muted ellipsis" title=${l.subsystem}>${l.subsystem}</span>
          <span class="msg-text">${l.message}</span></div>`)
          : html`<div class="empty">${this.lines.length ? "No line matches the filter." : "No log lines yet."}</div>`}
      </div>
      <p class="muted small">${shown.length} of ${this.lines.length} lines${this.follow ? " · following" : ""}${this.truncated ? " · older lines truncated" : ""}</p>
    </div>`;
  }
}
