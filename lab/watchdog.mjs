#!/usr/bin/env node
// Health watchdog of one lab host, as ExaBGP's healthcheck is for BGP: it probes the local
// anysip node and withdraws the host's anycast route when the node stops answering, so the
// router stops sending it calls long before OSPF's dead interval (4 s) would notice anything
// (OSPF runs in FRR, which lives on when anysip dies).
//
//   ip netns exec anysip-lab-nK node lab/watchdog.mjs STATE.json nK     (lab/up.mjs starts one per host)
//
// Every --interval ms (default 250) it asks the node's admin endpoint GET /status (timeout
// = the interval). After --fail consecutive failed probes (default 3: a dead node is withdrawn
// within ~0.75 s + vtysh + OSPF SPF, well under 3 s) it tells FRR in this namespace to stop
// announcing the anycast /32 (vtysh: `no network <anycast>/32 area 0`); after --rise consecutive
// probes that say the node is `up` (default 3) it announces it again. A node that answers but is
// `draining` or `drained` (anysip drain) is withdrawn too, never re-announced behind the
// operator's back; `joining` changes nothing. Each action is a JSON line in
// RUN/watchdog/nK.jsonl (run.mjs puts them in its report) and a line on stdout (the log).

import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ospfRouteCommand } from './lib/render.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const [stateFile, nodeName] = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
if (!stateFile || !nodeName) {
  console.error('usage: node lab/watchdog.mjs STATE.json NODE [--interval MS] [--fail N] [--rise N]');
  process.exit(2);
}
const interval = opt('interval', 250);
const failN = opt('fail', 3);
const riseN = opt('rise', 3);
const runDir = dirname(stateFile);
const desc = JSON.parse(readFileSync(stateFile, 'utf8')).desc;
const node = desc.nodes.find((n) => n.name === nodeName);
if (!node) {
  console.error(`watchdog: no node ${nodeName} in ${stateFile}`);
  process.exit(2);
}
const url = `http://${node.admin.address}:${node.admin.port}/status`;
const eventsFile = join(runDir, 'watchdog', `${node.name}.jsonl`);
mkdirSync(dirname(eventsFile), { recursive: true });

const say = (msg) => console.log(`${new Date().toISOString()} watchdog ${node.name}: ${msg}`);

/** The route as FRR was configured at up: announced. */
let announced = true;
let fails = 0;
let rises = 0;
let busy = false;
let stopping = false;

async function probe() {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(interval) });
    if (!res.ok) return { ok: false, why: `HTTP ${res.status}` };
    const s = await res.json();
    return { ok: true, state: s?.node?.state ?? 'up' };
  } catch (e) {
    return { ok: false, why: e?.cause?.code ?? e?.name ?? String(e) };
  }
}

function vtysh(action) {
  const cmd = ospfRouteCommand(desc, node, action, runDir);
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', cmd], { timeout: 5000 }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`.trim();
      // FRR says so when the statement is already (not) there: the route is as wanted.
      const already = /Can't find specified network|already/i.test(out);
      resolve({ ok: !err || already, ms: Date.now() - t0, out });
    });
  });
}

async function act(action, reason) {
  const t = Date.now();
  const r = await vtysh(action);
  if (r.ok) announced = action === 'announce';
  const ev = { t, at: new Date(t).toISOString(), node: node.name, action, reason, ok: r.ok, ms: r.ms, ...(r.ok ? {} : { output: r.out.slice(0, 300) }) };
  appendFileSync(eventsFile, JSON.stringify(ev) + '\n');
  say(`${action} ${desc.anycast}/32 (${reason}): ${r.ok ? 'done' : `FAILED: ${r.out}`} in ${r.ms} ms`);
}

async function tick() {
  if (busy) return;
  busy = true;
  try {
    const p = await probe();
    if (!p.ok) {
      rises = 0;
      fails++;
      if (fails === failN && announced) await act('withdraw', `${failN} failed probes (${p.why})`);
      else if (fails > failN && announced && fails % 8 === 0) await act('withdraw', `still failing (${p.why}), retry`);
    } else {
      fails = 0;
      if (p.state === 'up') {
        rises++;
        if (!announced && rises >= riseN) await act('announce', `${riseN} probes say up`);
      } else {
        rises = 0;
        if ((p.state === 'draining' || p.state === 'drained') && announced) await act('withdraw', `node is ${p.state}`);
      }
    }
  } finally {
    busy = false;
  }
}

process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));
say(`probing ${url} every ${interval} ms (withdraw after ${failN} failures, announce after ${riseN} up)`);
while (!stopping) {
  const t0 = Date.now();
  await tick();
  await new Promise((r) => setTimeout(r, Math.max(10, interval - (Date.now() - t0))));
}
say('stopped');
