import fs from "node:fs";
import path from "node:path";
const dist = process.argv[2];
const out = {};
const files = fs.readdirSync(dist).filter(f => f.endsWith(".mjs"));
for (const f of files) {
  const text = fs.readFileSync(path.join(dist, f), "utf8");
  if (!/Schema = |lazyCompile/.test(text)) continue;
  const m = text.match(/export \{([^}]*)\};?\s*$/);
  if (!m) continue;
  const pairs = m[1].split(",").map(s => s.trim()).filter(Boolean).map(s => {
    const mm = s.split(/\s+as\s+/); return [mm[0], mm[1] ?? mm[0]];
  }).filter(([orig]) => /Schema$/.test(orig) || /^validate[A-Z]/.test(orig));
  if (!pairs.length) continue;
  let mod;
  try { mod = await import(path.join(dist, f)); } catch (e) { console.error("skip", f, e.message.slice(0,100)); continue; }
  for (const [orig, alias] of pairs) {
    const v = mod[alias];
    const val = (typeof v === "function" && v.schema) ? v.schema : v; const key = (typeof v === "function") ? orig : orig; if (val && typeof val === "object" && !out[key]) { try { out[key] = JSON.parse(JSON.stringify(val)); out[key].__file = f; } catch {} }
  }
}
fs.writeFileSync(process.argv[3], JSON.stringify(out, null, 1));
console.log(Object.keys(out).length);
process.exit(0);
