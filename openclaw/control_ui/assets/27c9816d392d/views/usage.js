// Usage: tokens and cost per agent, model and day (`sessions.usage`, else `usage.cost`), with
// a stacked bar chart drawn as SVG.

import { html, nothing, svg } from "../vendor/lit-html/lit-html.js";
import { icons } from "../lib/icons.js";
import { errorText, tokens, usd } from "../lib/util.js";

const RANGES = [["7d", 7], ["30d", 30], ["90d", 90]];
const PALETTE = ["#b5452f", "#2e8f86", "#d8a23c", "#4f6fb0", "#8c5bb0", "#5a9c4e", "#c0577f", "#7a6a58"];
const REFRESH_MS = 2000;
const MAX_REFRESHES = 30;

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function rangeDates(days) {
  const end = new Date();
  const start = new Date(end.getTime() - (days - 1) * 86400000);
  return { startDate: isoDay(start), endDate: isoDay(end) };
}

function allDays(startDate, endDate) {
  const out = [];
  for (let t = Date.parse(`${startDate}T00:00:00Z`); t <= Date.parse(`${endDate}T00:00:00Z`); t += 86400000) {
    out.push(isoDay(new Date(t)));
  }
  return out;
}

/** Stacked bars: days × series, value by `metric` ("tokens" | "cost"). */
function chart(days, series, byDay, metric) {
  const width = 760;
  const height = 220;
  const left = 48;
  const bottom = 24;
  const top = 10;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  let max = 0;
  for (const day of days) {
    const total = series.reduce((sum, s) => sum + (byDay.get(day)?.get(s) || 0), 0);
    max = Math.max(max, total);
  }
  if (max <= 0) max = 1;
  const step = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(28, step * 0.7));
  const fmt = (v) => (metric === "cost" ? usd(v) : tokens(v));
  const ticks = max <= 1 && metric === "tokens" ? [0, max] : [0, 0.5, 1].map((f) => f * max);
  const labelEvery = Math.ceil(days.length / 8);
  return svg`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img"
      aria-label="${metric === "cost" ? "Cost" : "Tokens"} per day" data-usage-chart>
    ${ticks.map((v) => {
      const y = top + plotH - (v / max) * plotH;
      return svg`<line class="grid" x1=${left} x2=${width - 8} y1=${y} y2=${y}></line>
        <text x=${left - 6} y=${y + 4} text-anchor="end">${fmt(v)}</text>`;
    })}
    <line class="axis" x1=${left} x2=${width - 8} y1=${top + plotH} y2=${top + plotH}></line>
    ${days.map((day, i) => {
      const x = left + i * step + (step - barW) / 2;
      let y = top + plotH;
      const bars = series.map((s, k) => {
        const v = byDay.get(day)?.get(s) || 0;
        if (!v) return nothing;
        const h = Math.max(1, (v / max) * plotH);
        y -= h;
        return svg`<rect class="bar-rect" x=${x} y=${y} width=${barW} height=${h} rx="2"
          fill=${PALETTE[k % PALETTE.length]} data-day=${day}><title>${day} · ${s}: ${fmt(v)}</title></rect>`;
      });
      const label = i % labelEvery === 0 && (days.length - 1 - i >= labelEvery / 2 || i === days.length - 1) || i === days.length - 1
        ? svg`<text x=${x + barW / 2} y=${height - 6} text-anchor="middle">${day.slice(5)}</text>` : nothing;
      return svg`${bars}${label}`;
    })}
  </svg>`;
}

export class UsageView {
  constructor(app) {
    this.app = app;
    this.range = "30d";
    this.metric = "tokens";
    this.data = null;
    this.error = null;
    this.loading = false;
    this.refreshes = 0;
  }

  enter() {
    this.refreshes = 0;
    this.load();
  }

  leave() {
    clearTimeout(this.timer);
  }

  async load() {
    clearTimeout(this.timer);
    const days = RANGES.find((r) => r[0] === this.range)[1];
    const { startDate, endDate } = rangeDates(days);
    this.loading = true;
    this.app.update();
    try {
      // sessions.usage has the per-agent and per-model breakdown; upstream answers it without
      // advertising it, so try it first and fall back to the daily totals of usage.cost.
      let result = null;
      if (this.app.can("sessions.usage") || this.triedSessionsUsage !== false) {
        try {
          result = await this.app.call("sessions.usage", { startDate, endDate, mode: "utc", limit: 1000 });
          this.triedSessionsUsage = true;
        } catch (error) {
          if (!this.app.can("usage.cost") || !/unknown method/i.test(errorText(error))) throw error;
          this.triedSessionsUsage = false;
        }
      }
      this.data = result
        ? this.fromSessionsUsage(result, startDate, endDate)
        : this.fromUsageCost(await this.app.call("usage.cost", { startDate, endDate, mode: "utc", agentScope: "all" }), startDate, endDate);
      this.error = null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.loading = false;
    this.app.update();
    // Upstream aggregates lazily: a fresh turn may show up a moment later.
    if (this.data?.refreshing && this.refreshes < MAX_REFRESHES && this.app.state.route === "usage") {
      this.refreshes += 1;
      this.timer = setTimeout(() => this.load(), REFRESH_MS);
    }
  }

  fromSessionsUsage(r, startDate, endDate) {
    const agg = r?.aggregates || {};
    const byDay = { tokens: new Map(), cost: new Map() };
    const models = new Set();
    for (const row of agg.modelDaily || []) {
      const name = `${row.provider ? `${row.provider}/` : ""}${row.model || "?"}`;
      models.add(name);
      for (const [metric, value] of [["tokens", row.tokens], ["cost", row.cost]]) {
        if (!byDay[metric].has(row.date)) byDay[metric].set(row.date, new Map());
        const m = byDay[metric].get(row.date);
        m.set(name, (m.get(name) || 0) + (Number(value) || 0));
      }
    }
    if (!models.size) {
      for (const row of agg.daily || []) {
        models.add("all");
        byDay.tokens.set(row.date, new Map([["all", Number(row.tokens) || 0]]));
        byDay.cost.set(row.date, new Map([["all", Number(row.cost) || 0]]));
      }
    }
    const refreshing = r?.cacheStatus?.status === "refreshing" ||
      (r?.sessions || []).some((s) => s.usage === null);
    return {
      days: allDays(startDate, endDate),
      series: [...models],
      byDay,
      totals: r?.totals || {},
      byAgent: (agg.byAgent || []).map((a) => ({ name: a.agentId, totals: a.totals || {} })),
      byModel: (agg.byModel || []).map((m) => ({ name: `${m.provider ? `${m.provider}/` : ""}${m.model}`, count: m.count, totals: m.totals || {} })),
      sessions: (r?.sessions || []).length,
      messages: agg.messages,
      refreshing,
      source: "sessions.usage",
    };
  }

  fromUsageCost(r, startDate, endDate) {
    const byDay = { tokens: new Map(), cost: new Map() };
    for (const row of r?.daily || []) {
      byDay.tokens.set(row.date, new Map([["all", Number(row.totalTokens) || 0]]));
      byDay.cost.set(row.date, new Map([["all", Number(row.totalCost) || 0]]));
    }
    return {
      days: allDays(startDate, endDate),
      series: ["all"],
      byDay,
      totals: r?.totals || {},
      byAgent: [],
      byModel: [],
      refreshing: r?.cacheStatus?.status === "refreshing",
      source: "usage.cost",
    };
  }

  table(title, rows) {
    return html`<div class="card"><header><h2>${title}</h2></header>
      ${rows.length ? html`<div class="table-wrap"><table data-usage-table=${title}><thead><tr><th>${title.replace(/^By /, "")}</th>
        <th class="num">Input</th><th class="num">Output</th><th class="num">Total tokens</th><th class="num">Cost</th></tr></thead>
        <tbody>${rows.map((row) => html`<tr data-usage-row=${row.name}><td class="mono">${row.name}</td>
          <td class="num">${tokens(row.totals.input)}</td><td class="num">${tokens(row.totals.output)}</td>
          <td class="num">${tokens(row.totals.totalTokens)}</td><td class="num">${usd(row.totals.totalCost)}</td></tr>`)}</tbody>
      </table></div>` : html`<div class="empty">No usage in this range.</div>`}</div>`;
  }

  render() {
    const d = this.data;
    const t = d?.totals || {};
    return html`<div class="view-inner">
      <div class="view-head"><h1>Usage</h1>
        ${this.loading ? html`<span class="spinner muted"></span>` : nothing}
        <button @click=${() => this.load()}>${icons.refresh} Refresh</button></div>
      <p class="view-sub">Tokens and cost of model calls, from the transcripts (cost uses each model's configured price).</p>
      <div class="row toolbar">
        <div class="segmented" role="group" aria-label="Range">${RANGES.map(([id]) => html`<button aria-pressed=${this.range === id ? "true" : "false"}
          @click=${() => { this.range = id; this.load(); }}>${id}</button>`)}</div>
        <div class="segmented" role="group" aria-label="Metric">${["tokens", "cost"].map((m) => html`<button aria-pressed=${this.metric === m ? "true" : "false"}
          @click=${() => { this.metric = m; this.app.update(); }}>${m === "tokens" ? "Tokens" : "Cost"}</button>`)}</div>
        ${d?.refreshing ? html`<span class="badge warn">updating totals…</span>` : nothing}
      </div>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      <div class="cards" data-usage-totals>
        <div class="stat"><div class="label">Total tokens</div><div class="value" data-total-tokens=${t.totalTokens || 0}>${tokens(t.totalTokens)}</div>
          <div class="sub">${tokens(t.input)} in · ${tokens(t.output)} out</div></div>
        <div class="stat"><div class="label">Cost</div><div class="value">${usd(t.totalCost)}</div>
          <div class="sub">${t.missingCostEntries ? `${t.missingCostEntries} calls without a price` : "all calls priced"}</div></div>
        ${d?.sessions !== undefined ? html`<div class="stat"><div class="label">Sessions</div><div class="value">${d.sessions}</div>
          <div class="sub">${d.messages ? `${d.messages.total} messages` : ""}</div></div>` : nothing}
        <div class="stat"><div class="label">Cache</div><div class="value">${tokens((t.cacheRead || 0) + (t.cacheWrite || 0))}</div>
          <div class="sub">${tokens(t.cacheRead)} read · ${tokens(t.cacheWrite)} write</div></div>
      </div>
      ${d ? html`<div class="card"><header><h2>${this.metric === "cost" ? "Cost" : "Tokens"} per day</h2>
          <span class="muted small">by model · ${d.source}</span></header>
        ${chart(d.days, d.series, d.byDay[this.metric], this.metric)}
        <div class="legend">${d.series.map((s, k) => html`<span class="row"><span class="swatch" data-color=${k % PALETTE.length}></span>${s}</span>`)}</div>
      </div>
      ${this.table("By agent", d.byAgent)}
      ${this.table("By model", d.byModel)}` : nothing}
    </div>`;
  }
}
