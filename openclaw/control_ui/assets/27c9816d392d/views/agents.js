// Agents and models: the configured agents (identity, workspace, model) and the model catalog.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { icons } from "../lib/icons.js";
import { errorText, tokens } from "../lib/util.js";

export class AgentsView {
  constructor(app) {
    this.app = app;
    this.agents = null;
    this.identities = new Map();
    this.models = null;
    this.error = null;
    this.modelError = null;
  }

  async enter() {
    await Promise.all([this.loadAgents(), this.loadModels()]);
  }

  async loadAgents() {
    try {
      this.agents = await this.app.call("agents.list", {});
      this.app.agents = this.agents;
      this.error = null;
      if (this.app.can("agent.identity.get")) {
        await Promise.all((this.agents?.agents || []).map(async (a) => {
          try {
            this.identities.set(a.id, await this.app.call("agent.identity.get", { agentId: a.id }));
          } catch {
            // identity is optional
          }
        }));
      }
    } catch (error) {
      this.error = errorText(error);
    }
    this.app.update();
  }

  async loadModels() {
    if (!this.app.can("models.list")) return;
    try {
      this.models = await this.app.call("models.list", {});
      this.modelError = null;
    } catch (error) {
      this.modelError = errorText(error);
    }
    this.app.update();
  }

  render() {
    const list = this.agents?.agents || [];
    const models = this.models?.models || [];
    return html`<div class="view-inner">
      <div class="view-head"><h1>Agents &amp; models</h1>
        <button @click=${() => this.enter()}>${icons.refresh} Refresh</button></div>
      <p class="view-sub">Agents answer chats; each uses a model from the catalog below.
        ${this.agents ? html`Session scope <span class="badge">${this.agents.scope || "per-sender"}</span>` : nothing}</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <h3>Agents</h3><p></p>
      <div class="cards" data-agents>
        ${list.map((a) => {
          const identity = this.identities.get(a.id) || {};
          const name = identity.name || a.identity?.name || a.name || a.id;
          const avatar = identity.emoji || (identity.avatar && identity.avatar.length <= 2 ? identity.avatar : name.slice(0, 1).toUpperCase());
          return html`<div class="card" data-agent=${a.id}>
            <header><div class="avatar" aria-hidden="true">${avatar}</div>
              <div class="grow"><h2 class="ellipsis">${name}</h2><div class="muted small mono">${a.id}</div></div>
              ${a.id === this.agents.defaultId ? html`<span class="badge accent">default</span>` : nothing}</header>
            <dl class="kv small">
              <dt>Model</dt><dd class="mono">${a.model?.primary || "—"}</dd>
              ${a.model?.fallbacks?.length ? html`<dt>Fallbacks</dt><dd class="mono">${a.model.fallbacks.join(", ")}</dd>` : nothing}
              <dt>Workspace</dt><dd class="mono">${a.workspace || "—"}</dd>
              ${a.thinkingDefault ? html`<dt>Thinking</dt><dd>${a.thinkingDefault}</dd>` : nothing}
            </dl>
            <div class="row end"><button class="small" @click=${() => this.chatWith(a.id)}>Chat</button></div>
          </div>`;
        })}
        ${!list.length && !this.error ? html`<div class="empty">No agents.</div>` : nothing}
      </div>
      <h3>Models</h3><p></p>
      ${this.modelError ? html`<div class="notice err">${this.modelError}</div>` : nothing}
      <div class="table-wrap"><table class="stack" data-models>
        <thead><tr><th>Model</th><th>Provider</th><th class="num">Context</th><th class="hide-narrow">Input</th><th class="hide-narrow">Notes</th></tr></thead>
        <tbody>${models.length ? models.map((m) => html`<tr>
          <td><strong>${m.name || m.id}</strong><div class="muted small mono">${m.id}</div></td>
          <td><span class="badge">${m.provider || "—"}</span></td>
          <td class="num">${m.contextWindow ? tokens(m.contextWindow) : "—"}</td>
          <td class="hide-narrow">${(m.input || ["text"]).join(", ")}</td>
          <td class="hide-narrow">${m.reasoning ? html`<span class="badge info">reasoning</span>` : nothing}
            ${(m.tags || []).map((t) => html` <span class="badge">${t}</span>`)}
            ${m.available === false ? html`<span class="badge warn">unavailable</span>` : nothing}</td>
        </tr>`) : html`<tr><td colspan="5" class="empty">${this.models ? "No models configured." : "Loading…"}</td></tr>`}</tbody>
      </table></div>
    </div>`;
  }

  chatWith(agentId) {
    this.app.go("chat");
    const chat = this.app.views.get("chat");
    chat.selectAgent(agentId);
  }
}
