// tshark on the router's node-facing ports, and what the capture says per node;
// plus each node's admin /metrics (forwarding counters of the anycast layer).

import { spawn } from 'node:child_process';

import { join } from 'node:path';
import { RUN, ensureDir, nsHttpGet, registerPid, rmPid, sh, sleep, stopPid, waitFor } from './lab.mjs';

/** Start tshark in the router namespace on every node-facing port; resolves once it captures. */
export async function startCapture(d, file, name = 'tshark-run') {
  ensureDir(join(RUN, 'logs'));
  const ifs = d.nodes.flatMap((n) => ['-i', n.routerIface]);
  const child = spawn('ip', ['netns', 'exec', d.router.ns, 'tshark', '-q', ...ifs, '-f', `port ${d.sipPort}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  registerPid(name, 'tshark', child.pid);
  let err = '';
  child.stderr.on('data', (b) => (err += b.toString()));
  const exited = new Promise((res) => child.on('close', (code) => res(code)));
  await waitFor(`tshark to start capturing (${err.trim()})`, () => /Capturing on/.test(err) || child.exitCode !== null, 20_000, 50);
  if (child.exitCode !== null) throw new Error(`tshark exited ${child.exitCode}: ${err.trim()}`);
  await sleep(300); // dumpcap has opened every interface
  return {
    file,
    async stop() {
      await sleep(300);
      await stopPid(name, { signal: 'SIGINT', graceMs: 8000 });
      await exited;
      rmPid(name);
      return err;
    },
  };
}

const add = (o, k, n = 1) => {
  o[k] = (o[k] ?? 0) + n;
};

/**
 * SIP messages per node from a capture: what each node received (by method or status code),
 * split by side (to the anycast address: from the client; to its unicast address: from the core
 * or a peer), and what it sent.
 */
export function analyseCapture(d, file) {
  const out = sh('tshark', ['-r', file, '-Y', 'sip', '-T', 'fields',
    '-e', 'frame.interface_name', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'frame.time_relative',
    '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'], { timeout: 300_000 });
  const nodes = {};
  for (const n of d.nodes) nodes[n.name] = { packets: {}, fromClient: {}, fromCore: {}, sent: {}, total: 0 };
  const byIface = new Map(d.nodes.map((n) => [n.routerIface, n]));
  let frames = 0;
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const [iface, src, dst, methods, codes] = line.split('\t');
    const n = byIface.get(iface);
    if (!n) continue;
    frames++;
    const types = [...(methods ? methods.split(',') : []), ...(codes ? codes.split(',') : [])].filter(Boolean);
    const rec = nodes[n.name];
    const dsts = dst.split(',');
    const srcs = src.split(',');
    if (dsts.includes(d.anycast) || dsts.includes(n.address)) {
      for (const t of types) {
        add(rec.packets, t);
        add(dsts.includes(d.anycast) ? rec.fromClient : rec.fromCore, t);
        rec.total++;
      }
    } else if (srcs.includes(d.anycast) || srcs.includes(n.address)) {
      for (const t of types) add(rec.sent, t);
    }
  }
  return { frames, nodes };
}

/** Parse Prometheus text into [{name, labels, value}]. */
export function parseProm(text) {
  const out = [];
  for (const line of (text ?? '').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const kv of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

/** Every node's /metrics text (inside its namespace). */
export function scrapeMetrics(d) {
  const res = {};
  for (const n of d.nodes) res[n.name] = nsHttpGet(n.ns, `http://${n.admin.address}:${n.admin.port}/metrics`);
  return res;
}

/** after - before of one labelled counter, by its label; 'n/a' when the node does not export it. */
export function counterDelta(before, after, name, label) {
  const pick = (text) => parseProm(text).filter((s) => s.name === name);
  const a = pick(after);
  const exported = (after ?? '').includes(`# TYPE ${name} `);
  if (!exported && a.length === 0) return 'n/a';
  const sum = (list) => {
    const o = {};
    for (const s of list) add(o, s.labels[label] ?? 'all', s.value);
    return o;
  };
  const sa = sum(a);
  const sb = sum(pick(before));
  const o = {};
  for (const [k, v] of Object.entries(sa)) {
    const dlt = v - (sb[k] ?? 0);
    if (dlt) o[k] = dlt;
  }
  return o;
}

/**
 * What a node sent to owners over the bus (the anycast layer, issue 4): its
 * anysip_anycast_bus_sent_total by type (forward: a SIP message handed to its owner;
 * relay, query, answer: the other anycast bus messages). 'n/a' without an anycast layer.
 */
export function forwardedDelta(before, after) {
  return counterDelta(before, after, 'anysip_anycast_bus_sent_total', 'type');
}

/** What a node took over from the nodes that received it (it was the owner), by kind: anysip_anycast_forwarded_total. */
export function takenOverDelta(before, after) {
  return counterDelta(before, after, 'anysip_anycast_forwarded_total', 'kind');
}

/** The node's own view: SIP requests (by method) and responses (by code) it received, as after - before. */
export function receivedDelta(before, after) {
  const pick = (text, name, label) => {
    const o = {};
    for (const s of parseProm(text)) if (s.name === name) add(o, s.labels[label] ?? 'all', s.value);
    return o;
  };
  const o = {};
  for (const [name, label] of [['anysip_sip_requests_received_total', 'method'], ['anysip_sip_responses_received_total', 'code']]) {
    const a = pick(after, name, label);
    const b = pick(before, name, label);
    for (const [k, v] of Object.entries(a)) if (v - (b[k] ?? 0)) o[k] = v - (b[k] ?? 0);
  }
  return o;
}

/** Drops a node counted during the run, by reason. */
export function dropsDelta(before, after) {
  const pick = (text) => {
    const o = {};
    for (const s of parseProm(text)) if (s.name === 'anysip_sip_drops_total') add(o, s.labels.reason ?? 'all', s.value);
    return o;
  };
  const a = pick(after);
  const b = pick(before);
  const o = {};
  for (const [k, v] of Object.entries(a)) if (v - (b[k] ?? 0)) o[k] = v - (b[k] ?? 0);
  return o;
}

