const dist = process.argv[2];
const m = await import(dist + "/method-scopes-C7g7eSZh.mjs");
const names = m.h();
const handlers = Object.fromEntries(names.map(n => [n, () => {}]));
const desc = m.d(handlers).map(d => { const { handler, owner, ...rest } = d; rest.sessionScope = m._(d.name, {}) ?? null; return rest; });
const fs = await import("node:fs");
fs.writeFileSync(process.argv[3], JSON.stringify(desc, null, 1));
console.log(names.length, desc.length, m.p().length);
process.exit(0);
