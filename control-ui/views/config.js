// Config: a form generated from `config.schema` (one top-level section at a time, labels and
// help from the schema and its uiHints) and the raw JSON5 text. Saves go through
// `config.patch` (form: a merge patch of the changed fields) or `config.apply` (raw), guarded by
// `baseHash`; the answer says whether the change applied live or the gateway restarts.

import { html, nothing } from "../vendor/lit-html/lit-html.js";
import { live } from "../vendor/lit-html/directives/live.js";
import { icons } from "../lib/icons.js";
import { errorText } from "../lib/util.js";

const REDACTED = "__OPENCLAW_REDACTED__";
const MAX_DEPTH = 6;

function getAt(obj, path) {
  let cur = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[key];
  }
  return cur;
}

/** Resolve local `$ref`s (#/definitions/…, #/$defs/…). */
function deref(schema, root) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 10; i += 1) {
    const path = s.$ref.replace(/^#\//, "").split("/");
    s = getAt(root, path) || {};
  }
  return s || {};
}

/** The simple shape of a schema node: object | enum | string | number | integer | boolean | json. */
export function shapeOf(schema, root) {
  const s = deref(schema, root);
  if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === "string")) return { kind: "enum", options: s.enum, schema: s };
  if (s.const !== undefined && typeof s.const === "string") return { kind: "enum", options: [s.const], schema: s };
  const variants = s.anyOf || s.oneOf;
  if (Array.isArray(variants)) {
    const resolved = variants.map((v) => deref(v, root));
    const nonNull = resolved.filter((v) => v.type !== "null");
    if (nonNull.length && nonNull.every((v) => typeof v.const === "string" || (Array.isArray(v.enum) && v.enum.every((e) => typeof e === "string")))) {
      const options = nonNull.flatMap((v) => (v.const !== undefined ? [v.const] : v.enum));
      return { kind: "enum", options, schema: s, nullable: nonNull.length < resolved.length };
    }
    if (nonNull.length === 1) return { ...shapeOf(nonNull[0], root), schema: { ...nonNull[0], title: s.title || nonNull[0].title, description: s.description || nonNull[0].description } };
    const simple = nonNull.find((v) => ["string", "number", "integer", "boolean"].includes(v.type) && v.const === undefined);
    if (simple && nonNull.every((v) => ["string", "number", "integer", "boolean"].includes(v.type))) {
      return { kind: simple.type, schema: { ...simple, title: s.title, description: s.description } };
    }
    return { kind: "json", schema: s };
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  if (type === "object" && s.properties && Object.keys(s.properties).length) return { kind: "object", schema: s };
  if (["string", "number", "integer", "boolean"].includes(type)) return { kind: type, schema: s };
  return { kind: "json", schema: s };
}

/** A label for a key without a uiHint: the schema title when it is a short name, else the key
 *  spelled out ("maxFileBytes" -> "Max file bytes"). */
export function labelFor(key, schema, hint) {
  if (hint?.label) return hint.label;
  const title = schema?.title;
  if (typeof title === "string" && title.length <= 32 && !/[.:]$/.test(title)) return title;
  const words = String(key).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function setIn(target, path, value) {
  let cur = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) cur[key] = value;
    else {
      if (!cur[key] || typeof cur[key] !== "object") cur[key] = {};
      cur = cur[key];
    }
  });
  return target;
}

export class ConfigView {
  constructor(app) {
    this.app = app;
    this.snapshot = null;
    this.schema = null;
    this.hints = {};
    this.section = null;
    this.mode = "form";
    this.edits = new Map(); // "a.b.c" -> value (null = remove)
    this.errors = new Map(); // "a.b.c" -> message (bad JSON in a field)
    this.raw = null; // raw text being edited
    this.filter = "";
    this.error = null;
    this.result = null;
    this.conflict = false;
    this.saving = false;
  }

  async enter() {
    await this.load();
  }

  async load({ keepEdits = true } = {}) {
    this.loading = true;
    this.app.update();
    try {
      const [snapshot, schema] = await Promise.all([
        this.app.call("config.get", {}),
        this.schema ? Promise.resolve(null) : this.app.call("config.schema", {}),
      ]);
      this.snapshot = snapshot;
      if (schema) {
        this.schema = schema.schema || {};
        this.hints = schema.uiHints || {};
      }
      if (!keepEdits) {
        this.edits = new Map();
        this.errors = new Map();
        this.raw = null;
      }
      this.conflict = false;
      this.error = null;
      if (!this.section) this.section = this.sections()[0]?.key || null;
    } catch (error) {
      this.error = errorText(error);
    }
    this.loading = false;
    this.app.update();
  }

  get current() {
    const s = this.snapshot || {};
    return s.config || s.parsed || s.resolved || {};
  }

  sections() {
    const props = this.schema?.properties || {};
    const present = this.current;
    return Object.keys(props)
      .filter((k) => k !== "$schema")
      .map((key) => ({
        key,
        label: labelFor(key, props[key], this.hints[key]),
        order: this.hints[key]?.order ?? 1000,
        set: present[key] !== undefined,
      }))
      .sort((a, b) => (b.set - a.set) || a.order - b.order || a.label.localeCompare(b.label));
  }

  valueAt(pathKey, path) {
    if (this.edits.has(pathKey)) return this.edits.get(pathKey);
    return getAt(this.current, path);
  }

  edit(pathKey, value) {
    const original = getAt(this.current, pathKey.split("."));
    const same = JSON.stringify(original) === JSON.stringify(value === null ? undefined : value);
    if (same) this.edits.delete(pathKey);
    else this.edits.set(pathKey, value);
    this.result = null;
    this.app.update();
  }

  editJson(pathKey, text) {
    if (!text.trim()) {
      this.errors.delete(pathKey);
      this.edit(pathKey, null);
      return;
    }
    try {
      const value = JSON.parse(text);
      this.errors.delete(pathKey);
      this.edit(pathKey, value);
    } catch (error) {
      this.errors.set(pathKey, `Not valid JSON: ${error.message}`);
      this.app.update();
    }
  }

  patchFromEdits() {
    const patch = {};
    for (const [key, value] of this.edits) setIn(patch, key.split("."), value === undefined ? null : value);
    return patch;
  }

  describeOutcome(method, result) {
    if (result?.noop) return { kind: "info", text: "Nothing changed." };
    const restart = Boolean(result?.restart) || result?.sentinel?.payload?.stats?.requiresRestart === true;
    const paths = result?.changedPaths?.length ? ` (${result.changedPaths.join(", ")})` : "";
    if (restart) {
      const delay = result?.restart?.delayMs ?? result?.restart?.restartDelayMs;
      return { kind: "warn", restart: true, text: `Saved${paths}. This change needs a gateway restart: the gateway restarts${delay ? ` in ${Math.round(delay / 1000)} s` : ""} and this page reconnects.` };
    }
    return { kind: "ok", restart: false, text: `Saved and applied live${paths}.` };
  }

  async save({ retried = false } = {}) {
    if (this.errors.size) {
      this.app.toast("Fix the fields marked invalid first.", "err");
      return;
    }
    const hash = this.snapshot?.hash;
    let method;
    let params;
    if (this.mode === "raw") {
      if (this.raw === null) return;
      method = "config.apply";
      params = { raw: this.raw };
    } else {
      if (!this.edits.size) return;
      method = "config.patch";
      params = { raw: JSON.stringify(this.patchFromEdits(), null, 2) };
    }
    if (hash) params.baseHash = hash;
    this.saving = true;
    this.result = null;
    this.app.update();
    try {
      const result = await this.app.call(method, params);
      this.result = this.describeOutcome(method, result);
      this.edits = new Map();
      this.raw = null;
      await this.load({ keepEdits: false });
      this.result = this.describeOutcome(method, result);
    } catch (error) {
      const text = errorText(error);
      if (error.retryable && error.retryAfterMs && !retried) {
        // config writes are rate-limited (a few a minute): save again once the gateway
        // accepts writes, keeping the edits
        const seconds = Math.ceil(error.retryAfterMs / 1000);
        this.result = { kind: "warn", text: `The gateway accepts a few config writes a minute; saving again in ${seconds} s.` };
        this.saving = false;
        this.app.update();
        setTimeout(() => this.save({ retried: true }), error.retryAfterMs + 250);
        return;
      }
      if (/changed since last load|base hash/i.test(text)) {
        this.conflict = true;
        this.result = { kind: "err", text: "The config changed on the gateway since it was loaded here. Reload it: your form edits are kept and applied on top of the new version." };
      } else {
        const issues = error.details?.issues;
        this.result = { kind: "err", text, issues: Array.isArray(issues) ? issues : null };
      }
    }
    this.saving = false;
    this.app.update();
  }

  // ---- form rendering ----

  renderField(key, schemaNode, path, depth) {
    const pathKey = path.join(".");
    const shape = shapeOf(schemaNode, this.schema);
    const s = shape.schema || {};
    const hint = this.hints[pathKey] || {};
    const label = labelFor(key, s, hint);
    const help = hint.help || s.description || "";
    const value = this.valueAt(pathKey, path);
    const changed = this.edits.has(pathKey);
    if (shape.kind === "object" && depth < MAX_DEPTH) {
      const props = s.properties || {};
      const keys = Object.keys(props);
      const open = depth < 1 || keys.some((k) => getAt(this.current, [...path, k]) !== undefined) && depth < 2;
      return html`<details class="cfg-group" ?open=${open} data-cfg-group=${pathKey}>
        <summary>${label} <span class="faint small mono">${pathKey}</span></summary>
        ${help ? html`<div class="help muted small">${help}</div>` : nothing}
        ${keys.map((k) => this.renderField(k, props[k], [...path, k], depth + 1))}
      </details>`;
    }
    const sensitive = hint.sensitive || value === REDACTED;
    const id = `cfg-${pathKey.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
    let input;
    if (shape.kind === "boolean") {
      input = html`<select id=${id} data-path=${pathKey} .value=${live(value === true ? "true" : value === false ? "false" : "")}
        @change=${(e) => this.edit(pathKey, e.target.value === "" ? null : e.target.value === "true")}>
        <option value="">(default${s.default !== undefined ? `: ${s.default}` : ""})</option><option value="true">true</option><option value="false">false</option></select>`;
    } else if (shape.kind === "enum") {
      const options = shape.options;
      input = html`<select id=${id} data-path=${pathKey} .value=${live(value ?? "")}
        @change=${(e) => this.edit(pathKey, e.target.value === "" ? null : e.target.value)}>
        <option value="">(default${s.default !== undefined ? `: ${s.default}` : ""})</option>
        ${options.map((o) => html`<option value=${o} ?selected=${o === value}>${o}</option>`)}
        ${value !== undefined && value !== null && !options.includes(value) ? html`<option value=${value} selected>${value}</option>` : nothing}</select>`;
    } else if (shape.kind === "number" || shape.kind === "integer") {
      input = html`<input id=${id} data-path=${pathKey} type="number" step=${shape.kind === "integer" ? "1" : "any"}
        min=${s.minimum ?? nothing} max=${s.maximum ?? nothing} .value=${live(value === undefined || value === null ? "" : String(value))}
        placeholder=${s.default !== undefined ? String(s.default) : ""}
        @change=${(e) => this.edit(pathKey, e.target.value === "" ? null : Number(e.target.value))}>`;
    } else if (shape.kind === "string") {
      input = html`<input id=${id} data-path=${pathKey} type=${sensitive ? "password" : "text"} autocomplete="off" spellcheck="false"
        .value=${live(value === undefined || value === null ? "" : String(value))}
        placeholder=${s.default !== undefined ? String(s.default) : ""}
        @change=${(e) => this.edit(pathKey, e.target.value === "" ? null : e.target.value)}>`;
    } else {
      const text = value === undefined ? "" : JSON.stringify(value, null, 2);
      input = html`<textarea id=${id} data-path=${pathKey} rows=${Math.min(10, Math.max(2, text.split("\n").length))}
        class="mono" spellcheck="false" .value=${live(text)} placeholder="JSON"
        @change=${(e) => this.editJson(pathKey, e.target.value)}></textarea>
        ${this.errors.has(pathKey) ? html`<div class="small" role="alert"><span class="badge err">${this.errors.get(pathKey)}</span></div>` : nothing}`;
    }
    return html`<div class="cfg-field ${changed ? "changed" : ""}" data-cfg-field=${pathKey}>
      <div><label class="label" for=${id}>${label}</label><div class="path">${pathKey}</div></div>
      <div>${input}${help ? html`<div class="help">${help}</div>` : nothing}</div>
    </div>`;
  }

  matches(pathKey, node, depth = 0) {
    const f = this.filter.toLowerCase();
    if (!f) return true;
    const s = deref(node, this.schema);
    const hint = this.hints[pathKey] || {};
    if (pathKey.toLowerCase().includes(f) || (hint.label || s.title || "").toLowerCase().includes(f)) return true;
    if (depth > MAX_DEPTH) return false;
    return Object.entries(s.properties || {}).some(([k, v]) => this.matches(`${pathKey}.${k}`, v, depth + 1));
  }

  renderForm() {
    const props = this.schema?.properties || {};
    const sections = this.sections().filter((sec) => this.matches(sec.key, props[sec.key]));
    const section = sections.find((s) => s.key === this.section) ? this.section : sections[0]?.key;
    const node = section ? props[section] : null;
    const shape = node ? shapeOf(node, this.schema) : null;
    return html`<div class="config-layout">
      <nav class="config-sections" aria-label="Config sections" data-config-sections>
        <input type="search" placeholder="Find a setting" aria-label="Find a setting" .value=${this.filter}
          @input=${(e) => { this.filter = e.target.value; this.app.update(); }}>
        ${sections.map((s) => html`<button aria-current=${s.key === section ? "true" : "false"} data-section=${s.key}
          @click=${() => { this.section = s.key; this.app.update(); }}>${s.label}${s.set ? html` <span class="dot ok" aria-label="set"></span>` : nothing}</button>`)}
      </nav>
      <div class="card" data-config-form>
        ${node ? (shape.kind === "object"
          ? html`<header><h2>${labelFor(section, node, this.hints[section])}</h2></header>
            ${this.hints[section]?.help || node.description ? html`<p class="muted small">${this.hints[section]?.help || node.description}</p>` : nothing}
            ${Object.entries(shape.schema.properties).filter(([k, v]) => this.matches(`${section}.${k}`, v)).map(([k, v]) => this.renderField(k, v, [section, k], 1))}`
          : this.renderField(section, node, [section], 1))
          : html`<div class="empty">No setting matches.</div>`}
      </div>
    </div>`;
  }

  renderRaw() {
    const text = this.raw ?? this.snapshot?.raw ?? JSON.stringify(this.current, null, 2);
    return html`<div class="card">
      <p class="muted small">The config file as JSON5. Secrets show as <code>${REDACTED}</code>: leave them so and the
        gateway keeps the stored values. Saving replaces the whole file (<code>config.apply</code>).</p>
      <textarea class="raw-editor" spellcheck="false" aria-label="Raw config (JSON5)" data-raw-config
        .value=${live(text)} @input=${(e) => { this.raw = e.target.value; this.result = null; this.app.update(); }}></textarea>
    </div>`;
  }

  render() {
    const s = this.snapshot || {};
    const dirty = this.mode === "raw" ? this.raw !== null && this.raw !== s.raw : this.edits.size > 0;
    const canWrite = this.mode === "raw" ? this.app.can("config.apply") : this.app.can("config.patch");
    const r = this.result;
    return html`<div class="view-inner">
      <div class="view-head"><h1>Config</h1>
        ${this.loading ? html`<span class="spinner muted"></span>` : nothing}
        <div class="segmented" role="group" aria-label="Editor">
          <button aria-pressed=${this.mode === "form" ? "true" : "false"} data-mode="form" @click=${() => { this.mode = "form"; this.app.update(); }}>Form</button>
          <button aria-pressed=${this.mode === "raw" ? "true" : "false"} data-mode="raw" @click=${() => { this.mode = "raw"; this.app.update(); }}>Raw JSON5</button>
        </div>
        <button @click=${() => this.load({ keepEdits: true })}>${icons.refresh} Reload</button></div>
      <p class="view-sub"><code>${s.path || "openclaw.json"}</code>
        ${s.valid === false ? html`<span class="badge err">invalid</span>` : s.valid ? html`<span class="badge ok">valid</span>` : nothing}
        <span class="faint small mono" title="baseHash">${s.hash ? String(s.hash).slice(-12) : ""}</span></p>
      ${this.error ? html`<div class="notice err">${this.error}</div>` : nothing}
      ${(s.issues || []).length ? html`<div class="notice err">${s.issues.map((i) => html`<div><code>${i.path}</code> ${i.message}</div>`)}</div>` : nothing}
      ${r ? html`<div class="notice ${r.kind}" role="status" data-save-result=${r.kind} data-restart=${r.restart ? "yes" : "no"}>${r.text}
        ${r.issues ? r.issues.map((i) => html`<div><code>${i.path}</code> ${i.message}</div>`) : nothing}
        ${this.conflict ? html` <button class="small" data-reload-conflict @click=${() => this.load({ keepEdits: true })}>Reload</button>` : nothing}</div>` : nothing}
      ${this.schema ? (this.mode === "form" ? this.renderForm() : this.renderRaw()) : nothing}
      <div class="savebar row">
        <span class="muted small">${this.mode === "form" ? (this.edits.size ? `${this.edits.size} change${this.edits.size > 1 ? "s" : ""}: ${[...this.edits.keys()].join(", ")}` : "No changes.") : dirty ? "Edited." : "No changes."}</span>
        <span class="spacer"></span>
        ${this.mode === "form" && this.edits.size ? html`<button @click=${() => { this.edits = new Map(); this.errors = new Map(); this.app.update(); }}>Discard</button>` : nothing}
        <button class="primary" data-save ?disabled=${!dirty || this.saving || !canWrite} @click=${() => this.save()}>
          ${this.saving ? html`<span class="spinner"></span>` : nothing} Save${this.mode === "raw" ? " & apply" : ""}</button>
      </div>
    </div>`;
  }
}
