#!/usr/bin/env zx
// Restart one node of the lab: stop its anysip by its own PID (its pid file; SIGTERM, SIGKILL if it
// is still there after --grace ms; --signal SIGKILL for a crash), start it again the way up.mjs
// starts nodes (lib/nodes.mjs startNode: same config, same log, same pid file), and wait until
// - it is `up` (GET /status node.state; it stays `joining` until its location table is synced
//   from a peer: /status location.sync has the donor, the records received and the state),
// - every node's cluster view has every node up,
// - the router routes to it again (the watchdog re-announces it once it is up; per-packet, the
//   spray table of lb-sync follows).
//
//   npx zx lab/restart.mjs NODE [--signal SIGTERM|SIGKILL] [--grace MS] [--timeout S] [--json FILE]
//
// Prints what it saw, and with --json writes it: the old and new pid, ms to stop, ms to `up`, the
// states the node went through, its location status once up, and ms until the route was back.
// Exit code 0 when all of that happened within --timeout (default 60 s).

import { argv } from 'zx';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { anycastNexthops, checkLock, cmdline, die, log, pidAlive, readPid, requireRoot, requireUp, sleep, stopPid } from './lib/lab.mjs';
import { nodeLog, nodePidName, nodeStatus, startNode } from './lib/nodes.mjs';

requireRoot('restart');
checkLock('restart');
const st = requireUp();
const d = st.desc;
const which = String(argv._[0] ?? argv.node ?? '');
const n = d.nodes.find((x) => x.name === which);
if (!n) die(`usage: npx zx lab/restart.mjs NODE (one of ${d.nodes.map((x) => x.name).join(', ')})`);
const signal = String(argv.signal ?? 'SIGTERM');
if (!['SIGTERM', 'SIGKILL', 'SIGINT'].includes(signal)) die(`--signal must be SIGTERM, SIGKILL or SIGINT (got ${signal})`);
const timeoutMs = Number(argv.timeout ?? 60) * 1000;
const graceMs = Number(argv.grace ?? 10_000);

const procStat = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
};
const name = nodePidName(n);
const oldPid = readPid(name);
if (!oldPid || !pidAlive(name)) die(`no live anysip process for ${n.name} (pid file ${name})`);
const before = nodeStatus(n);

// ---- stop: our own node, by its pid file (stopPid checks its command line before signalling)
const t0 = Date.now();
log(`${signal} to ${n.name} (pid ${oldPid}: ${(cmdline(oldPid) ?? '?').slice(0, 80)})`);
await stopPid(name, { signal, graceMs });
// anysip removes its own pid file as it stops, before it exits: wait on the PID itself.
const ours = () => (cmdline(oldPid) ?? '').includes('anysip.mjs') && !/\) Z/.test(procStat(oldPid));
for (const until = Date.now() + graceMs; ours() && Date.now() < until; ) await sleep(20);
if (ours()) {
  log(`${n.name} (pid ${oldPid}) still running after ${Date.now() - t0} ms: SIGKILL`);
  process.kill(oldPid, 'SIGKILL');
  for (const until = Date.now() + 2000; ours() && Date.now() < until; ) await sleep(20);
}
const stoppedMs = Date.now() - t0;
if (ours()) die(`${n.name} (pid ${oldPid}) is still running after ${stoppedMs} ms`);
log(`${n.name} stopped in ${stoppedMs} ms`);

// ---- start again, as up.mjs does
const t1 = Date.now();
const child = startNode(n);
let exited;
child.on('exit', (code, sig) => (exited = { code, signal: sig }));
log(`${n.name} started again: pid ${child.pid}, log ${nodeLog(n)}`);

const states = [];
const until = t1 + timeoutMs;
const fail = (what) => die(`${what} (${n.name}, pid ${child.pid}; its log: ${nodeLog(n)}; states seen: ${states.map((s) => `${s.state}@+${s.ms}ms`).join(' ') || 'none'})`);
let status;
for (;;) {
  if (exited) fail(`the restarted node exited (code ${exited.code}, signal ${exited.signal})`);
  if (Date.now() > until) fail(`not up after ${timeoutMs} ms`);
  status = nodeStatus(n, 1);
  const state = status?.node?.state ?? (status ? '?' : 'no answer');
  if (states[states.length - 1]?.state !== state) {
    states.push({ state, ms: Date.now() - t1, ...(status?.location?.sync ? { sync: status.location.sync } : {}) });
    log(`${n.name}: ${state} at +${Date.now() - t1} ms${status?.location?.sync ? ` (location sync: ${JSON.stringify(status.location.sync)})` : ''}`);
  }
  if (state === 'up') break;
  await sleep(50);
}
const upMs = Date.now() - t1;

// ---- every node sees every node up
for (const p of d.nodes) {
  for (;;) {
    const s = p === n ? status : nodeStatus(p, 1);
    if (s?.cluster === undefined || s.cluster.up?.length === d.nodes.length) break;
    if (Date.now() > until) fail(`${p.name}'s cluster view has up = ${JSON.stringify(s?.cluster?.up)}, not every node, after ${timeoutMs} ms`);
    await sleep(100);
    if (p === n) status = nodeStatus(n, 1);
  }
}
const clusterMs = Date.now() - t1;

// ---- the router routes to it again (per-packet: and sprays to it)
const routed = () => anycastNexthops(d.router.ns, d.anycast).some((h) => h.dev === n.routerIface) && (d.mode !== 'per-packet' || anycastNexthops(d.router.ns, d.anycast, n.table).length > 0);
while (!routed()) {
  if (Date.now() > until) fail(`the router has no route to ${n.name} after ${timeoutMs} ms: ${JSON.stringify(anycastNexthops(d.router.ns, d.anycast))}`);
  await sleep(50);
}
const routeMs = Date.now() - t1;
const after = nodeStatus(n) ?? status;

const report = {
  node: n.name,
  signal,
  oldPid,
  pid: child.pid,
  stopped_ms: stoppedMs,
  up_ms: upMs,
  cluster_up_ms: clusterMs,
  route_back_ms: routeMs,
  states,
  location: after?.location,
  locationBefore: before?.location ? { bindings: before.location.bindings, aors: before.location.aors } : undefined,
  clusterUp: after?.cluster?.up,
};
const sync = after?.location?.sync;
log(`${n.name} restarted: stopped in ${stoppedMs} ms, up ${upMs} ms after its start (${states.map((s) => s.state).join(' -> ')}), every node sees ${d.nodes.length} up at +${clusterMs} ms, route back at +${routeMs} ms`);
if (sync) log(`${n.name} location: ${after.location.bindings} bindings (before the restart: ${before?.location?.bindings ?? '?'}); sync ${sync.state}, donor ${sync.donor ?? '-'}, ${sync.received} records received in ${sync.chunks} chunk(s)${sync.duration_ms !== undefined ? `, ${sync.duration_ms} ms` : ''}${sync.reason ? ` (${sync.reason})` : ''}`);
if (argv.json) writeFileSync(resolve(String(argv.json)), JSON.stringify(report, null, 2) + '\n');
