'use strict';
// Egress guard for the reference OpenClaw CLI and gateway (tests/interop).
//
// Preloaded into every Node process through NODE_OPTIONS="--require .../egress-guard.cjs"
// (oc.sh, run-gateway.sh; child processes inherit it). It refuses every non-loopback network
// destination, so nothing the reference starts can leave this machine: the hosted model
// catalog refresh, the hosted plugin-catalog feed (clawhub.ai, which has no config switch),
// update checks, provider calls, mDNS... all fail at once with ENOTFOUND / EHOSTUNREACH
// instead of going to the system resolver.
//
// Loopback (127.0.0.0/8, ::1, localhost) is untouched: WebSocket/HTTP to the gateway under
// test keeps working. OPENCLAW_EGRESS_GUARD_LOG=/path appends one line per refusal.

const dns = require('dns');
const net = require('net');
const dgram = require('dgram');
const fs = require('fs');

if (globalThis.__openclawEgressGuard) return;
globalThis.__openclawEgressGuard = true;

const LOG = process.env.OPENCLAW_EGRESS_GUARD_LOG || '';
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

function note(kind, target) {
  if (!LOG) return;
  try {
    fs.appendFileSync(LOG, `${new Date().toISOString()} pid=${process.pid} refused ${kind} ${target}\n`);
  } catch {}
}

function isLoopbackIp(addr) {
  const a = String(addr).toLowerCase();
  if (net.isIPv4(a)) return a.startsWith('127.');
  if (net.isIPv6(a)) return a === '::1' || a === '0:0:0:0:0:0:0:1' || a.startsWith('::ffff:127.');
  return false;
}

function isAllowedHost(host) {
  if (host === undefined || host === null) return true; // net's default host is localhost
  const h = String(host).toLowerCase().replace(/^\[/, '').replace(/\]$/, '').replace(/\.$/, '');
  if (h === '') return true;
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  return isLoopbackIp(h);
}

function refusal(code, errno, syscall, message, extra) {
  const err = new Error(`${message} (refused by the reference egress guard)`);
  Object.assign(err, { code, errno, syscall }, extra);
  return err;
}
const dnsError = (host, syscall) =>
  refusal('ENOTFOUND', -3008, syscall, `${syscall} ENOTFOUND ${host}`, { hostname: host });
const connError = (addr) =>
  refusal('EHOSTUNREACH', -113, 'connect', `connect EHOSTUNREACH ${addr}`, { address: addr });

// -- dns.lookup (getaddrinfo): what net, http, https, tls, fetch and ws use by default --------
const origLookup = dns.lookup;
dns.lookup = function guardedLookup(host, options, callback) {
  if (!isAllowedHost(host)) {
    const cb = typeof options === 'function' ? options : callback;
    note('lookup', host);
    process.nextTick(() => cb(dnsError(host, 'getaddrinfo')));
    return {};
  }
  return origLookup.apply(this, arguments);
};
const origPromiseLookup = dns.promises.lookup;
dns.promises.lookup = function guardedPromiseLookup(host) {
  if (!isAllowedHost(host)) {
    note('lookup', host);
    return Promise.reject(dnsError(host, 'getaddrinfo'));
  }
  return origPromiseLookup.apply(this, arguments);
};

// -- c-ares resolvers: dns.resolve*, dns.Resolver, and their promise forms -----------------
const RESOLVE_METHODS = ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa', 'resolveCname',
  'resolveMx', 'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt',
  'resolveTlsa', 'reverse'];
function guardResolvers(target, promiseStyle) {
  if (!target) return;
  for (const name of RESOLVE_METHODS) {
    const orig = target[name];
    if (typeof orig !== 'function') continue;
    target[name] = function guardedResolve(host, ...rest) {
      const allowed = name === 'reverse' ? isLoopbackIp(host) : isAllowedHost(host);
      if (allowed) return orig.call(this, host, ...rest);
      note(name, host);
      const err = dnsError(host, 'query' + name.replace(/^resolve/, ''));
      if (promiseStyle) return Promise.reject(err);
      const cb = rest[rest.length - 1];
      if (typeof cb === 'function') process.nextTick(() => cb(err));
      return undefined;
    };
  }
}
guardResolvers(dns, false);
guardResolvers(dns.Resolver && dns.Resolver.prototype, false);
guardResolvers(dns.promises, true);
guardResolvers(dns.promises.Resolver && dns.promises.Resolver.prototype, true);

// -- net.Socket#connect: covers http, https, tls, undici/fetch and ws --------------------
const origConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  // net.connect()/createConnection() (and so http, https, tls, undici) call this with one
  // array of already-normalized arguments, [options, callback]; direct calls pass the raw
  // (port, host, cb) / (options, cb) forms.
  let normalized = null;
  if (Array.isArray(args[0])) {
    normalized = args[0];
  } else {
    try {
      normalized = net._normalizeArgs ? net._normalizeArgs(args) : null;
    } catch {}
  }
  const opts = normalized && normalized[0];
  if (!opts || opts.path || opts.port === undefined || isAllowedHost(opts.host)) {
    return origConnect.apply(this, args);
  }
  const host = opts.host;
  if (net.isIP(String(host)) && typeof opts.lookup !== 'function') {
    // A literal non-loopback address: refuse without touching the network.
    note('connect', `${host}:${opts.port}`);
    const sock = this;
    if (typeof normalized[1] === 'function') sock.once('connect', normalized[1]);
    process.nextTick(() => sock.destroy(connError(`${host}:${opts.port}`)));
    return sock;
  }
  if (typeof opts.lookup === 'function') {
    // A custom lookup may run, but a non-loopback answer is refused.
    const userLookup = opts.lookup;
    opts.lookup = function (h, o, cb) {
      return userLookup(h, o, (err, address, family) => {
        if (err) return cb(err, address, family);
        const list = Array.isArray(address) ? address : [{ address }];
        if (list.some((entry) => !isLoopbackIp(entry.address))) {
          note('connect', `${h} -> ${JSON.stringify(address)}`);
          return cb(dnsError(h, 'getaddrinfo'));
        }
        return cb(err, address, family);
      });
    };
    return origConnect.call(this, opts, normalized[1]);
  }
  // A hostname with the default lookup: dns.lookup above refuses it.
  return origConnect.apply(this, args);
};

// -- dgram: mDNS and any other UDP ------------------------------------------------------------
const origSend = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function guardedSend(msg, ...rest) {
  // send(msg[, offset, length], port[, address][, callback])
  let address;
  let callback;
  for (let i = rest.length - 1; i >= 0; i--) {
    if (typeof rest[i] === 'function') { callback = rest[i]; continue; }
    if (typeof rest[i] === 'string') { address = rest[i]; break; }
  }
  if (address !== undefined && !isAllowedHost(address)) {
    note('udp', address);
    if (callback) process.nextTick(() => callback(connError(address)));
    return;
  }
  return origSend.call(this, msg, ...rest);
};
