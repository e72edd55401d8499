// Channels: each chat network's accounts (configured, running, connected, last error), a live
// probe on demand, and the DM pairing requests waiting for approval.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { icons } from "../lib/icons.js";
import { ago, errorText } from "../lib/util.js";

function accountState(a) {
  if (a.lastError) return ["err", "error"];
  if (a.connected === true) return ["ok", "connected"];
  if (a.running === true) return ["ok", "running"];
  if (a.enabled === false) return ["", "disabled"];
  if (a.configured === false) return ["warn", "not configured"];
  if (a.linked === false) return ["warn", "not linked"];
  return ["", "idle"];
}

export class ChannelsView {
  constructor(app) {
    this.app = app;
    this.status = null;
    this.pairing = null;
    this.error = null;
    this.pairingError = null;
    this.probing = false;
  }

  async enter() {
    await Promise.all([this.load(false), this.loadPairing()]);
  }

  async load(probe) {
    this.probing = probe;
    this.app.update();
    try {
      this.status = await this.app.call("channels.status", { probe, timeoutMs: 8000 });
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.probing = false;
    this.app.update();
  }

  async loadPairing() {
    if (!this.app.can("channels.pairing.list")) return;
    try {
      this.pairing = await this.app.call("channels.pairing.list", {});
      this.pairingError = null;
    } catch (error) {
      this.pairingError = errorText(error);
    }
    this.app.update();
  }

  async approve(request) {
    try {
      await this.app.act("channels.pairing.approve", {
        channel: request.channel,
        accountId: request.accountId,
        requestId: request.requestId,
      }, { ok: `Approved ${request.senderLabel || request.senderId}` });
    } catch {
      return;
    }
    this.loadPairing();
  }

  async dismiss(request) {
    try {
      await this.app.act("channels.pairing.dismiss", {
        channel: request.channel,
        accountId: request.accountId,
        requestId: request.requestId,
      });
    } catch {
      return;
    }
    this.loadPairing();
  }

  render() {
    const s = this.status || {};
    const order = s.channelOrder?.length ? s.channelOrder : Object.keys(s.channels || {});
    const requests = this.pairing?.requests || [];
    return html`<div class="view-inner">
      <div class="view-head"><h1>Channels</h1>
        <button @click=${() => this.load(false)}>${icons.refresh} Refresh</button>
        <button class="primary" data-probe ?disabled=${this.probing} @click=${() => this.load(true)}>
          ${this.probing ? html`<span class="spinner"></span>` : nothing} Probe</button></div>
      <p class="view-sub">Chat networks the gateway talks to. <em>Probe</em> checks each account live.
        ${s.ts ? html`<span class="faint">Status ${ago(s.ts)}.</span>` : nothing}</p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div data-channels>
      ${order.length ? order.map((id) => {
        const accounts = s.channelAccounts?.[id] || [];
        const summary = s.channels?.[id] || {};
        return html`<div class="card" data-channel=${id}>
          <header><h2>${s.channelLabels?.[id] || id}</h2>
            ${s.channelDetailLabels?.[id] ? html`<span class="muted small">${s.channelDetailLabels[id]}</span>` : nothing}
            <span class="spacer"></span>
            ${summary.configured === false ? html`<span class="badge warn">not configured</span>` : nothing}</header>
          ${accounts.length ? html`<div class="table-wrap"><table><thead><tr><th>Account</th><th>State</th><th class="hide-narrow">Details</th></tr></thead><tbody>
            ${accounts.map((a) => {
              const [cls, label] = accountState(a);
              return html`<tr><td class="mono">${a.accountId || "default"}${a.name ? html` <span class="muted">${a.name}</span>` : nothing}</td>
                <td><span class="badge ${cls}">${label}</span></td>
                <td class="hide-narrow small">${a.lastError ? html`<span class="muted">${a.lastError}</span>` : nothing}
                  ${a.probe ? html`<div class="muted">probe: ${a.probe.ok === false ? `failed ${a.probe.error || ""}` : "ok"}${a.probe.elapsedMs ? ` (${a.probe.elapsedMs} ms)` : ""}</div>` : nothing}
                  ${a.lastInboundAt ? html`<div class="muted">last inbound ${ago(a.lastInboundAt)}</div>` : nothing}</td></tr>`;
            })}</tbody></table></div>`
            : html`<pre class="small muted">${JSON.stringify(summary, null, 2)}</pre>`}
        </div>`;
      }) : html`<div class="card empty">No channels are configured. Add one under <code>channels</code> in the config.</div>`}
      </div>
      <div class="view-head"><h2>Pairing requests</h2>
        ${this.app.can("channels.pairing.list") ? html`<button class="small" @click=${() => this.loadPairing()}>${icons.refresh} Refresh</button>` : nothing}</div>
      <p class="view-sub">People who messaged a bot and wait for access.</p>
      ${!this.app.can("channels.pairing.list")
        ? html`<div class="notice warn">This gateway does not offer <code>channels.pairing.list</code>.</div>`
        : this.pairingError ? html`<div class="notice err">${this.pairingError}</div>`
        : html`<div class="table-wrap"><table data-channel-pairing>
          <thead><tr><th>Sender</th><th>Channel</th><th class="hide-narrow">Requested</th><th class="actions"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${requests.length ? requests.map((r) => html`<tr data-request-id=${r.requestId}>
            <td><strong>${r.senderLabel || r.senderId}</strong><div class="muted small mono">${r.senderId}</div></td>
            <td>${r.channelLabel || r.channel}<div class="muted small">${r.accountLabel || r.accountId}</div></td>
            <td class="hide-narrow">${ago(Date.parse(r.createdAt))}</td>
            <td class="actions"><button class="small primary" @click=${() => this.approve(r)}>Approve</button>
              ${this.app.can("channels.pairing.dismiss") ? html`<button class="small" @click=${() => this.dismiss(r)}>Dismiss</button>` : nothing}</td>
          </tr>`) : html`<tr><td colspan="4" class="empty">No pairing requests.</td></tr>`}</tbody></table></div>`}
    </div>`;
  }
}
