#!/usr/bin/env zx
// Run a SIPp scenario from the client namespace against the anycast address, capture on
// the router's node-facing ports, and report calls ok/failed and, per node, the SIP messages
// it received by type and the messages it forwarded to owners.
//
//   npx zx lab/run.mjs --scenario NAME|FILE.xml [--uas FILE.xml] [--calls M] [--rate R]
//                      [--flows K] [--transport u1|t1] [--json FILE] [--quiet] [--hold MS]
//                      [--drain NODE@S] [--undrain NODE@S] [--kill NODE@S]
//
// Shipped scenarios: basic, cancel, busy (486), register-call, callee-hangup, tcp-large, hold
// (a basic call held --hold ms, default 3000, before the BYE), register-users and call-users
// (--calls N: users user0..userN-1 registered, then called, through the registrar; see lib/sipp.mjs).
// --drain n2@10: `anysip drain` on n2 (inside its namespace) 10 s after the load started;
// --undrain n2@20 likewise; --kill n3@10: SIGKILL to n3's anysip (by its pid file). Repeatable.
// The report then says when the router's route followed, how many messages still reached the
// node, how many new calls it took, and (kill) how many calls it had in flight.
// --flows: number of UAC instances (source ports). Default: 2 per node in per-flow mode
// (ports chosen so the router's L4 hash spreads them over every node), 1 in per-packet mode.
// --json FILE also writes FILE.md, FILE.svg (chart) and FILE.pcapng (the capture) beside it.
// Exit code 0 when every call succeeded.

import { argv } from 'zx';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { checkLock, RUN, die, ensureDir, log, requireRoot, requireUp, sleep } from './lib/lab.mjs';
import { assignUsers, pickPorts, resolveScenario, runUac, startDefaultUas, startRunUas, stopDefaultUas, readStat, writeUsersCsv } from './lib/sipp.mjs';
import { analyseCapture, dropsDelta, forwardedDelta, receivedDelta, scrapeMetrics, startCapture, takenOverDelta } from './lib/capture.mjs';
import { markdownReport, svgChart, textReport } from './lib/report.mjs';
import { stopPid } from './lib/lab.mjs';
import { analyseEvents, captureMessages, doEvent, failedCallIds, eventsMarkdown, eventsText, parseEvents, startWatch, watchdogEvents } from './lib/events.mjs';

requireRoot('run');
checkLock('run');
const st = requireUp();
const d = st.desc;
if (!argv.scenario) die('--scenario NAME|FILE.xml is required (basic, cancel, busy, register-call, callee-hangup, tcp-large, hold, register-users, call-users, auth-register, auth-call)');
let sc;
try {
  sc = resolveScenario(String(argv.scenario), argv.uas, argv.transport, { hold: argv.hold === undefined ? undefined : Number(argv.hold) });
} catch (e) {
  die(e.message);
}
let events;
try {
  events = parseEvents(argv, d);
} catch (e) {
  die(e.message);
}
const calls = Number(argv.calls ?? 100);
const rate = Number(argv.rate ?? 20);
if (!(calls >= 1) || !(rate > 0)) die('--calls must be >= 1 and --rate > 0');
const flowsWanted = Number(argv.flows ?? (d.mode === 'per-flow' ? 2 * d.nodes.length : 1));
const flowCount = Math.min(Math.max(1, flowsWanted), calls);

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const tag = `run-${stamp}`;
const capDir = ensureDir(join(RUN, 'captures'));
const capFile = join(capDir, `${tag}.pcapng`);
const proto = sc.transport.startsWith('t') ? 'tcp' : 'udp';
// per-flow + UDP: pick ports the router hashes onto every node; otherwise consecutive ports.
const flows = d.mode === 'per-flow' && proto === 'udp' ? pickPorts(d, flowCount, proto) : Array.from({ length: flowCount }, (_, i) => ({ port: 20000 + i, node: '?' }));

if (proto === 'tcp' && d.mode === 'per-packet') log('warning: TCP under per-packet spraying breaks (the segments of one connection reach different kernels): expect no call to complete');
const t0 = Date.now();
const startedAt = new Date().toISOString();
const quiet = Boolean(argv.quiet);
if (!quiet) log(`scenario ${sc.name}: ${calls} calls at ${rate}/s over ${flows.length} flow(s), mode ${d.mode}`);

const capture = await startCapture(d, capFile);
const before = scrapeMetrics(d);
await stopDefaultUas();
const uasTag = `${tag}-uas`;
startRunUas(d, sc, uasTag);
await sleep(400); // the UAS binds

const watch = events.length ? startWatch(d) : undefined;
const tLoad = Date.now();
const done = events.map((ev) => new Promise((res) => setTimeout(() => doEvent(d, ev).then(res, (e) => res({ ...ev, t: Date.now(), ok: false, error: e.message })), ev.at * 1000)));
// User scenarios: each flow calls its own users (a CSV per flow); the others: an even share of the calls.
const users = sc.users ? assignUsers(flows, calls, sc.users.shift) : undefined;
const usersDir = users ? ensureDir(join(RUN, 'users')) : undefined;
const share = (i) => (users ? users[i].length : Math.floor(calls / flows.length) + (i < calls % flows.length ? 1 : 0));
const perRate = rate / flows.length;
const results = await Promise.all(
  flows.map((f, i) => {
    const c = share(i);
    if (c === 0) return { code: 0, ok: 0, failed: 0, calls: 0, port: f.port, stderr: '', errors: '' }; // sipp -m 0 would never end
    const r = Math.max(0.01, perRate);
    const inf = users ? writeUsersCsv(join(usersDir, `${tag}-flow-${i}.csv`), users[i]) : undefined;
    return runUac(d, sc, { port: f.port, calls: c, rate: Number(r.toFixed(3)), tag: `uac-${i}`, timeoutS: Math.ceil(c / r) + 40, inf });
  }),
);
await sleep(1500); // last ACKs, BYE retransmissions, the UAS's last stats line
const eventsDone = await Promise.all(done);
const watched = watch?.stop();
await stopPid('uas-run', { signal: 'SIGUSR1' }); // SIGUSR1: SIPp ends gracefully, writing its statistics
const uas = readStat(join(RUN, 'logs', `${uasTag}-stat.csv`));
startDefaultUas(d);
await capture.stop();
const after = scrapeMetrics(d);

const cap = analyseCapture(d, capFile);
const evReport = events.length
  ? {
      t0: tLoad,
      events: analyseEvents(d, eventsDone, watched, captureMessages(d, capFile), tLoad, failedCallIds(results.map((x) => x.errors))),
      routes: watched.routes,
      nodeStates: watched.states,
      watchdog: watchdogEvents(d, t0, Date.now()),
    }
  : {};
const nodes = {};
for (const n of d.nodes) {
  const c = cap.nodes[n.name];
  nodes[n.name] = {
    packets: c.packets,
    fromClient: c.fromClient,
    fromCore: c.fromCore,
    sent: c.sent,
    total: c.total,
    forwarded: forwardedDelta(before[n.name], after[n.name]),
    takenOver: takenOverDelta(before[n.name], after[n.name]),
    nodeCounters: receivedDelta(before[n.name], after[n.name]),
    drops: dropsDelta(before[n.name], after[n.name]),
  };
}
const ok = results.reduce((s, r) => s + r.ok, 0);
const failed = results.reduce((s, r) => s + r.failed, 0);
const failures = results.filter((r) => r.failed || r.code !== 0).flatMap((r) => [`flow port ${r.port}: sipp exit ${r.code}, ${r.ok} ok, ${r.failed} failed ${r.stderr ? `(${r.stderr.split('\n').slice(-2).join(' ')})` : ''}`, ...r.errors.split('\n').filter((l) => /error|unexpected|timeout|abort/i.test(l)).slice(0, 5)]);
const report = {
  scenario: { name: sc.name, about: sc.about, uac: relative(sc.uac), uas: relative(sc.uas), transport: sc.transport, service: sc.service },
  mode: d.mode,
  spray: d.mode === 'per-packet' ? d.spray : undefined,
  nodeCount: d.nodes.length,
  cluster: d.cluster.enabled && st.clusterRendered ? { anycastMode: d.cluster.anycastMode } : 'off (independent nodes)',
  anycast: `${d.anycast}:${d.sipPort}`,
  startedAt,
  duration_s: Number(((Date.now() - t0) / 1000).toFixed(1)),
  rate,
  calls: { ok, failed, requested: calls, unfinished: Math.max(0, calls - ok - failed) },
  uas: { ok: uas.ok, failed: uas.failed },
  flows: flows.map((f, i) => ({ ...f, calls: share(i), exit: results[i].code, ok: results[i].ok, failed: results[i].failed, ...(users ? { users: users[i].map((k) => `user${k}`) } : {}) })),
  nodes,
  capture: { file: capFile, frames: cap.frames, ports: d.nodes.map((n) => `${d.router.ns}:${n.routerIface}`) },
  failures,
  command: ['npx zx lab/run.mjs', ...process.argv.slice(process.argv.findIndex((x) => x.endsWith('run.mjs')) + 1)].join(' '),
  ...evReport,
};

const text = textReport(report) + eventsText(report);
console.log(text);
const outBase = argv.json ? resolve(String(argv.json)).replace(/\.json$/, '') : join(ensureDir(join(RUN, 'reports')), tag);
mkdirSync(dirname(outBase), { recursive: true });
if (argv.json) {
  copyFileSync(capFile, `${outBase}.pcapng`);
  report.capture.file = `${basename(outBase)}.pcapng`;
}
writeFileSync(`${outBase}.svg`, svgChart(report));
writeFileSync(`${outBase}.md`, markdownReport(report, `${basename(outBase)}.svg`) + eventsMarkdown(report));
writeFileSync(`${outBase}.json`, JSON.stringify(report, null, 2) + '\n');
if (!quiet) log(`report: ${outBase}.json (.md, .svg${argv.json ? ', .pcapng' : ''}); capture: ${capFile}`);
process.exit(failed === 0 && ok === calls ? 0 : 1);

function relative(p) {
  const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
  return p.startsWith(root + '/') ? p.slice(root.length + 1) : p;
}
