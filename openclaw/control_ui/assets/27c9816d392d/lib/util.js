// Small helpers shared by the views.

/** A random UUID, also outside secure contexts (crypto.randomUUID needs one). */
export function uuid() {
  if (globalThis.crypto && crypto.randomUUID && globalThis.isSecureContext) {
    return crypto.randomUUID();
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function ago(ms, now = Date.now()) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "n/a";
  const s = Math.round((now - Number(ms)) / 1000);
  if (Math.abs(s) < 5) return "just now";
  const future = s < 0;
  const a = Math.abs(s);
  const text =
    a < 60 ? `${a}s` : a < 3600 ? `${Math.round(a / 60)}m` : a < 86400 ? `${Math.round(a / 3600)}h`
      : `${Math.round(a / 86400)}d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "n/a";
  const s = Number(ms) / 1000;
  if (s < 1) return `${Math.round(Number(ms))} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.round((s % 86400) / 3600)}h`;
}

export function clock(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTime(ms) {
  if (!ms) return "n/a";
  return new Date(ms).toLocaleString();
}

export function tokens(n) {
  const v = Number(n) || 0;
  if (v >= 1e9) return `${(v / 1e9).toFixed(1)}B`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v));
}

export function usd(n) {
  const v = Number(n) || 0;
  if (v === 0) return "$0";
  if (v < 0.01) return `$${v.toFixed(6).replace(/0+$/, "")}`;
  return `$${v.toFixed(2)}`;
}

export function bytes(n) {
  const v = Number(n) || 0;
  if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(1)} GB`;
  if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MB`;
  if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KB`;
  return `${v} B`;
}

/** The text of a transcript message's content (string or typed parts). */
export function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((p) => p && (p.type === "text" || p.type === "output_text") && typeof p.text === "string")
    .map((p) => p.text)
    .join("");
}

export function errorText(error) {
  if (!error) return "";
  if (typeof error === "string") return error;
  return error.message || String(error);
}

/** Debounce for inputs (search boxes). */
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
