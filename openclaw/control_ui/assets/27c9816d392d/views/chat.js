// Chat: pick an agent and a session, read its history (paged), send messages, watch the answer
// stream in (`chat` deltas), see tool calls as they run (`agent` tool stream), stop a run.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { ref } from "../vendor/lit-html/directives/ref.js";
import { live } from "../vendor/lit-html/directives/live.js";
import { icons } from "../lib/icons.js";
import { markdown } from "../lib/markdown.js";
import { prefs } from "../lib/storage.js";
import { clock, errorText, textOf, uuid } from "../lib/util.js";

const PAGE = 50;
const MAX_HISTORY = 1000;
const STATUS_LABELS = {
  preparing_workspace: "Preparing the workspace…",
  preparing_context: "Preparing the context…",
  memory_flushing: "Saving memory…",
  starting_model: "Starting the model…",
  provisioning_environment: "Provisioning…",
  running_setup: "Running setup…",
};

function mainKeyFor(app, agentId) {
  const defaults = app.hello?.snapshot?.sessionDefaults || {};
  if (defaults.scope === "global") return "global";
  return `agent:${agentId}:${defaults.mainKey || "main"}`;
}

function agentOfKey(key) {
  const m = /^agent:([^:]+):/.exec(key || "");
  return m ? m[1] : null;
}

export class ChatView {
  constructor(app) {
    this.app = app;
    this.agentId = null;
    this.sessionKey = null;
    this.sessions = [];
    this.messages = [];
    this.limit = PAGE;
    this.hasMore = false;
    this.loading = false;
    this.error = null;
    this.run = null; // {runId, text, phase, tools: Map, mine}
    this.pendingUser = null;
    this.attachments = [];
    this.models = [];
    this.draft = "";
    this.logEl = null;
    this.stickToBottom = true;
    this.refreshTimer = 0;
  }

  get defaults() {
    return this.app.hello?.snapshot?.sessionDefaults || {};
  }

  async enter() {
    const defaults = this.defaults;
    const agents = this.app.agents?.agents || [];
    const savedAgent = prefs.get("chat.agent", null);
    if (!this.agentId) {
      this.agentId = agents.some((a) => a.id === savedAgent) ? savedAgent : defaults.defaultAgentId || agents[0]?.id || "main";
    }
    if (!this.sessionKey) {
      const saved = prefs.get("chat.session", null);
      this.sessionKey = saved && agentOfKey(saved) === this.agentId ? saved : mainKeyFor(this.app, this.agentId);
    }
    this.loadSessions();
    this.loadModels();
    await this.loadHistory({ reset: true });
  }

  leave() {}

  async loadSessions() {
    if (!this.app.can("sessions.list")) return;
    try {
      const result = await this.app.call("sessions.list", {
        limit: 100,
        includeDerivedTitles: true,
        agentId: this.agentId,
      });
      this.sessions = result?.sessions || [];
    } catch {
      this.sessions = [];
    }
    this.app.update();
  }

  async loadModels() {
    if (!this.app.can("models.list")) return;
    try {
      const result = await this.app.call("models.list", {});
      this.models = result?.models || [];
    } catch {
      this.models = [];
    }
    this.app.update();
  }

  async loadHistory({ reset = false, older = false } = {}) {
    if (!this.app.can("chat.history")) return;
    if (reset) {
      this.limit = PAGE;
      this.stickToBottom = true;
    }
    if (older) this.limit = Math.min(MAX_HISTORY, this.limit + PAGE);
    const key = this.sessionKey;
    this.loading = true;
    this.app.update();
    const previousHeight = this.logEl ? this.logEl.scrollHeight - this.logEl.scrollTop : 0;
    for (let attempt = 0; attempt < 4; attempt += 1) {
      try {
        const result = await this.app.call("chat.history", { sessionKey: key, limit: this.limit });
        if (key !== this.sessionKey) return;
        this.messages = Array.isArray(result?.messages) ? result.messages : [];
        this.hasMore = typeof result?.hasMore === "boolean" ? result.hasMore : this.messages.length >= this.limit;
        if (this.limit >= MAX_HISTORY) this.hasMore = false;
        this.error = null;
        const flight = result?.inFlightRun;
        if (flight && flight.runId && (!this.run || this.run.runId !== flight.runId)) {
          this.run = { runId: flight.runId, text: flight.text || "", phase: null, tools: new Map(), mine: false };
        }
        if (this.pendingUser && this.messages.some((m) => m.role === "user" && textOf(m.content) === this.pendingUser.text)) {
          this.pendingUser = null;
        }
        break;
      } catch (error) {
        if (error.retryable && attempt < 3) {
          await new Promise((r) => setTimeout(r, 300 * (attempt + 1)));
          continue;
        }
        this.error = errorText(error);
        break;
      }
    }
    this.loading = false;
    this.app.update();
    if (older && this.logEl) {
      await Promise.resolve();
      requestAnimationFrame(() => {
        if (this.logEl) this.logEl.scrollTop = this.logEl.scrollHeight - previousHeight;
      });
    } else this.scrollSoon();
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.loadHistory();
      this.loadSessions();
    }, 250);
  }

  scrollSoon() {
    if (!this.stickToBottom) return;
    requestAnimationFrame(() => {
      if (this.logEl) this.logEl.scrollTop = this.logEl.scrollHeight;
    });
  }

  onEvent(name, payload) {
    if (!payload || payload.sessionKey !== this.sessionKey) {
      if (name === "sessions.changed") this.loadSessionsSoon();
      return;
    }
    if (name === "chat") this.onChat(payload);
    else if (name === "agent") this.onAgent(payload);
    else if (name === "session.message" && !this.run) this.scheduleRefresh();
  }

  loadSessionsSoon() {
    clearTimeout(this.sessionsTimer);
    this.sessionsTimer = setTimeout(() => this.loadSessions(), 500);
  }

  ensureRun(runId) {
    if (!this.run || this.run.runId !== runId) {
      this.run = { runId, text: "", phase: null, tools: new Map(), mine: false };
    }
    return this.run;
  }

  onChat(p) {
    const state = p.state;
    if (state === "status") {
      this.ensureRun(p.runId).phase = p.phase;
    } else if (state === "delta") {
      const run = this.ensureRun(p.runId);
      const full = textOf(p.message?.content);
      if (p.replace) run.text = p.deltaText ?? full;
      else if (!run.text) run.text = full || p.deltaText || "";
      else if (typeof p.deltaText === "string" && full === run.text + p.deltaText) run.text = full;
      else if (full) run.text = full;
      else if (typeof p.deltaText === "string") run.text += p.deltaText;
      run.phase = null;
    } else if (state === "final" || state === "aborted" || state === "error") {
      const run = this.ensureRun(p.runId);
      this.settlePendingUser();
      const text = textOf(p.message?.content) || run.text;
      if (state === "final" && p.message) {
        this.messages = [...this.messages, { ...p.message, __live: true }];
      } else if (state === "aborted") {
        if (text) this.messages = [...this.messages, { role: "assistant", content: [{ type: "text", text }], __stopped: true, timestamp: Date.now() }];
        else this.messages = [...this.messages, { role: "assistant", content: [], __stopped: true, timestamp: Date.now() }];
      } else if (state === "error") {
        this.messages = [...this.messages, { role: "assistant", content: [], __error: p.errorMessage || "The run failed.", timestamp: Date.now() }];
      }
      this.lastRunTools = run.tools;
      this.run = null;
      this.scheduleRefresh();
    }
    this.app.update();
    this.scrollSoon();
  }

  /** The message we sent goes before its answer until the history reload brings the real one. */
  settlePendingUser() {
    const sent = this.pendingUser;
    if (!sent) return;
    this.pendingUser = null;
    const content = [{ type: "text", text: sent.text }, ...sent.images.map((url) => ({ type: "image", url }))];
    this.messages = [...this.messages, { role: "user", content, timestamp: sent.at, __local: true }];
  }

  onAgent(p) {
    if (p.stream === "tool") {
      const data = p.data || {};
      const run = this.ensureRun(p.runId);
      const id = data.toolCallId || data.id || `${data.name}-${run.tools.size}`;
      const tool = run.tools.get(id) || { id, name: data.name || "tool", phase: "start" };
      tool.phase = data.phase || tool.phase;
      if (data.args !== undefined) tool.args = data.args;
      if (data.partialResult !== undefined) tool.result = data.partialResult;
      if (data.result !== undefined) tool.result = data.result;
      if (data.isError !== undefined) tool.isError = data.isError;
      run.tools.set(id, tool);
      this.app.update();
      this.scrollSoon();
    } else if (p.stream === "lifecycle" && p.data?.phase === "start") {
      this.ensureRun(p.runId);
      this.app.update();
    }
  }

  // ---- actions ----

  selectAgent(agentId) {
    this.agentId = agentId;
    prefs.set("chat.agent", agentId);
    this.selectSession(mainKeyFor(this.app, agentId));
    this.loadSessions();
  }

  selectSession(key) {
    this.sessionKey = key;
    prefs.set("chat.session", key);
    this.messages = [];
    this.run = null;
    this.pendingUser = null;
    this.error = null;
    this.loadHistory({ reset: true });
  }

  newSession() {
    this.selectSession(`agent:${this.agentId}:dashboard:${uuid()}`);
    this.app.update();
    this.focusComposer();
  }

  focusComposer() {
    requestAnimationFrame(() => document.querySelector("[data-composer]")?.focus());
  }

  acceptsImages() {
    const agent = (this.app.agents?.agents || []).find((a) => a.id === this.agentId);
    const ref = agent?.model?.primary || "";
    const [provider, ...rest] = ref.split("/");
    const id = rest.join("/");
    const model = this.models.find((m) => (m.provider === provider && m.id === id) || m.id === ref);
    return Array.isArray(model?.input) && model.input.includes("image");
  }

  async addFiles(files) {
    const max = this.app.hello?.policy?.attachments?.maxImageBytes || 6 * 1024 * 1024;
    for (const file of files) {
      if (!file.type.startsWith("image/")) {
        this.app.toast(`${file.name}: only images can be attached`, "err");
        continue;
      }
      if (file.size > max) {
        this.app.toast(`${file.name}: larger than ${Math.round(max / 1048576)} MB`, "err");
        continue;
      }
      const dataUrl = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(file);
      });
      this.attachments = [...this.attachments, { name: file.name, mimeType: file.type, dataUrl, size: file.size }];
    }
    this.app.update();
  }

  async send() {
    const text = this.draft.trim();
    if ((!text && !this.attachments.length) || this.sending) return;
    const idempotencyKey = uuid();
    const params = { sessionKey: this.sessionKey, message: text, idempotencyKey, deliver: false };
    if (this.attachments.length) {
      params.attachments = this.attachments.map((a) => ({
        type: "image",
        mimeType: a.mimeType,
        fileName: a.name,
        content: a.dataUrl.slice(a.dataUrl.indexOf(",") + 1),
      }));
    }
    this.sending = true;
    this.pendingUser = { text, at: Date.now(), images: this.attachments.map((a) => a.dataUrl) };
    this.draft = "";
    this.attachments = [];
    this.stickToBottom = true;
    this.run = { runId: idempotencyKey, text: "", phase: "sending", tools: new Map(), mine: true };
    this.app.update();
    this.scrollSoon();
    try {
      const ack = await this.app.call("chat.send", params);
      if (ack?.runId && this.run && this.run.runId === idempotencyKey) this.run.runId = ack.runId;
      if (ack?.status && ack.status !== "started" && ack.status !== "in_flight" && this.run?.runId === idempotencyKey) {
        this.run = null; // answered at once (a command such as /stop)
        this.scheduleRefresh();
      }
    } catch (error) {
      this.run = null;
      this.pendingUser = null;
      this.draft = text;
      this.app.toast(`Not sent: ${errorText(error)}`, "err");
    }
    this.sending = false;
    this.app.update();
  }

  async abort() {
    if (!this.run) return;
    const params = { sessionKey: this.sessionKey };
    if (this.run.runId) params.runId = this.run.runId;
    try {
      await this.app.call("chat.abort", params);
    } catch (error) {
      this.app.toast(`Stop failed: ${errorText(error)}`, "err");
    }
  }

  onKeydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    } else if (event.key === "Escape" && this.run) {
      event.preventDefault();
      this.abort();
    }
  }

  // ---- rendering ----

  renderTool(tool) {
    const running = tool.phase === "start" || tool.phase === "update";
    const show = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
    return html`<details class="tool" data-tool=${tool.name} data-tool-phase=${tool.phase}>
      <summary>${icons.tool}<strong>${tool.name}</strong>
        ${running ? html`<span class="spinner" aria-label="running"></span><span class="muted small">running</span>`
          : tool.isError ? html`<span class="badge err">error</span>` : html`<span class="badge ok">done</span>`}
      </summary>
      <div class="tool-body">
        ${tool.args !== undefined ? html`<div class="small muted">Arguments</div><pre>${show(tool.args)}</pre>` : nothing}
        ${tool.result !== undefined ? html`<div class="small muted">Result</div><pre>${show(tool.result)}</pre>` : nothing}
      </div>
    </details>`;
  }

  renderMessage(m, results) {
    const role = m.role || "assistant";
    const time = m.timestamp ? clock(typeof m.timestamp === "number" ? m.timestamp : Date.parse(m.timestamp)) : "";
    if (role === "toolResult" || role === "tool") {
      if (m.toolCallId && results.consumed.has(m.toolCallId)) return nothing;
      return html`<div class="msg assistant"><div class="avatar" aria-hidden="true">${icons.tool}</div>
        <div class="body">${this.renderTool({ name: m.toolName || "tool", phase: "result", result: textOf(m.content) || m.content, isError: m.isError })}</div></div>`;
    }
    const parts = typeof m.content === "string" ? [{ type: "text", text: m.content }] : Array.isArray(m.content) ? m.content : [];
    const body = parts.map((part) => {
      if (!part) return nothing;
      if (part.type === "text" || part.type === "output_text") return markdown(part.text);
      if (part.type === "image") {
        const src = part.data ? `data:${part.mimeType || "image/png"};base64,${part.data}` : part.url || part.source?.url;
        return src && /^(data:image\/|blob:|https?:)/.test(src) ? html`<img class="attachment" alt="attachment" src=${src}>` : html`<span class="badge">image</span>`;
      }
      if (part.type === "thinking") {
        return html`<details class="tool"><summary class="muted">Thinking</summary><div class="tool-body"><pre>${part.thinking || ""}</pre></div></details>`;
      }
      if (part.type === "toolCall" || part.type === "tool_use") {
        const result = results.byId.get(part.id);
        if (result) results.consumed.add(part.id);
        return this.renderTool({
          name: part.name,
          phase: result ? "result" : "done",
          args: part.arguments ?? part.input,
          result: result ? textOf(result.content) || result.content : undefined,
          isError: result?.isError,
        });
      }
      return nothing;
    });
    if (role === "user") {
      return html`<div class="msg user" data-role="user"><div class="avatar user" aria-hidden="true">You</div>
        <div class="body"><div class="bubble">${body}</div><div class="meta">${time}</div></div></div>`;
    }
    const cls = m.__error ? "error" : m.__stopped ? "stopped" : "";
    return html`<div class="msg assistant ${cls}" data-role=${role}>
      <div class="avatar" aria-hidden="true">${this.app.assistant.avatar}</div>
      <div class="body"><div class="bubble">${m.__error ? m.__error : body}
        ${m.__stopped && !parts.length ? html`<span class="muted">(stopped before any answer)</span>` : nothing}</div>
        <div class="meta">${time}${m.stopReason && m.stopReason !== "stop" && m.stopReason !== "end_turn" ? ` · ${m.stopReason}` : ""}</div></div></div>`;
  }

  renderRun() {
    const run = this.run;
    if (!run) return nothing;
    const tools = [...run.tools.values()];
    const waiting = !run.text && !tools.length;
    return html`<div class="msg assistant" data-role="streaming" data-run-id=${run.runId}>
      <div class="avatar" aria-hidden="true">${this.app.assistant.avatar}</div>
      <div class="body">
        ${tools.map((t) => this.renderTool(t))}
        ${run.text ? html`<div class="bubble caret" data-streaming>${markdown(run.text)}</div>` : nothing}
        ${waiting ? html`<div class="status-line" data-run-status><span class="spinner"></span>
          ${STATUS_LABELS[run.phase] || (run.phase === "sending" ? "Sending…" : "Thinking…")}</div>` : nothing}
      </div></div>`;
  }

  render() {
    const app = this.app;
    const agents = app.agents?.agents || [];
    const sessionOptions = [...this.sessions];
    if (!sessionOptions.some((s) => s.key === this.sessionKey)) sessionOptions.unshift({ key: this.sessionKey });
    const results = { byId: new Map(), consumed: new Set() };
    for (const m of this.messages) {
      if ((m.role === "toolResult" || m.role === "tool") && m.toolCallId) results.byId.set(m.toolCallId, m);
    }
    const canSend = app.can("chat.send");
    const running = Boolean(this.run);
    const images = this.acceptsImages();
    const label = (s) => s.label || s.displayName || s.derivedTitle ||
      (s.key === mainKeyFor(app, this.agentId) ? "Main session"
        : /:dashboard:/.test(s.key) ? `Session ${s.key.slice(-6)}` : s.key);
    return html`<section class="chat" aria-label="Chat">
      <div class="chat-head">
        <label><span class="sr-only">Agent</span>
          <select data-agent-picker @change=${(e) => this.selectAgent(e.target.value)} aria-label="Agent">
            ${(agents.length ? agents : [{ id: this.agentId }]).map((a) => html`<option value=${a.id} ?selected=${a.id === this.agentId}>${a.identity?.name || a.name || a.id}</option>`)}
          </select></label>
        <label><span class="sr-only">Session</span>
          <select data-session-picker @change=${(e) => this.selectSession(e.target.value)} aria-label="Session">
            ${sessionOptions.map((s) => html`<option value=${s.key} ?selected=${s.key === this.sessionKey}>${label(s)}</option>`)}
          </select></label>
        <button class="small" @click=${() => this.newSession()} title="New session">${icons.plus}<span class="hide-narrow">New</span></button>
        <span class="spacer"></span>
        ${this.loading ? html`<span class="spinner muted" aria-label="loading"></span>` : nothing}
        <button class="small ghost" @click=${() => this.loadHistory()} title="Reload history" aria-label="Reload history">${icons.refresh}</button>
      </div>
      <div class="chat-log" ${ref((el) => { this.logEl = el; })} data-chat-log
        @scroll=${(e) => { const el = e.target; this.stickToBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 60; }}>
        <div class="chat-log-inner" role="log" aria-live="polite">
          ${this.hasMore ? html`<button class="small load-older" data-load-older @click=${() => this.loadHistory({ older: true })}>Load earlier messages</button>` : nothing}
          ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
          ${!this.messages.length && !this.run && !this.loading && !this.pendingUser ? html`<div class="empty">
            <div class="avatar" aria-hidden="true">${app.assistant.avatar}</div>
            <h2>${app.assistant.name}</h2><p>Type a message below to start.</p></div>` : nothing}
          ${repeat(this.messages, (m, i) => m.__openclaw?.id || m.id || `${i}:${m.role}:${m.timestamp}`, (m) => this.renderMessage(m, results))}
          ${this.pendingUser ? html`<div class="msg user" data-role="user" data-pending><div class="avatar user" aria-hidden="true">You</div>
            <div class="body"><div class="bubble">${markdown(this.pendingUser.text)}
              ${this.pendingUser.images.map((src) => html`<img class="attachment" alt="attachment" src=${src}>`)}</div>
            <div class="meta">${clock(this.pendingUser.at)}</div></div></div>` : nothing}
          ${this.renderRun()}
        </div>
      </div>
      <div class="composer-wrap">
        <form class="composer" @submit=${(e) => { e.preventDefault(); this.send(); }}>
          ${this.attachments.length ? html`<div class="attachments">${this.attachments.map((a) => html`<span class="badge">${a.name}
            <button type="button" aria-label="Remove ${a.name}" @click=${() => { this.attachments = this.attachments.filter((x) => x !== a); app.update(); }}>×</button></span>`)}</div>` : nothing}
          <label class="sr-only" for="composer">Message</label>
          <textarea id="composer" data-composer rows="2" placeholder=${canSend ? `Message ${app.assistant.name}` : "This gateway does not offer chat.send"}
            ?disabled=${!canSend} .value=${live(this.draft)}
            @input=${(e) => { this.draft = e.target.value; }}
            @keydown=${(e) => this.onKeydown(e)}
            @paste=${(e) => { const files = [...(e.clipboardData?.files || [])]; if (files.length && images) { e.preventDefault(); this.addFiles(files); } }}></textarea>
          <div class="row">
            ${images ? html`<label class="btn ghost small" title="Attach images">${icons.attach}<span class="sr-only">Attach images</span>
              <input type="file" accept="image/*" multiple class="sr-only" data-attach
                @change=${(e) => { this.addFiles([...e.target.files]); e.target.value = ""; }}></label>` : nothing}
            <span class="muted small hide-narrow">Enter to send · Shift+Enter for a new line${running ? " · Esc to stop" : ""}</span>
            <span class="spacer"></span>
            ${running
              ? html`<button type="button" class="danger" data-abort @click=${() => this.abort()}>${icons.stop} Stop</button>`
              : nothing}
            <button type="submit" class="primary" data-send ?disabled=${!canSend || this.sending}
              aria-label="Send">${icons.send}<span class="hide-narrow">Send</span></button>
          </div>
        </form>
      </div>
    </section>`;
  }
}
