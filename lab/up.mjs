#!/usr/bin/env zx
// Build the lab: namespaces and veths from lab/topology.mjs, FRR (zebra + ospfd) in the
// router and every anysip host, the per-packet balancer if asked, the anysip nodes (dist/)
// and a SIPp UAS in the core.
//
//   npx zx lab/up.mjs [--nodes N] [--mode per-flow|per-packet] [--spray random|inc]
//                     [--anycast-mode hash|receiver] [--no-cluster] [--no-watchdog] [--auth]
//
// --spray (per-packet): random (default) or inc (round robin, as Cisco's per-packet; note that
// round robin aliases with periodic traffic: 3 packets per call over 3 nodes puts every INVITE on one node).
// --no-cluster: independent single nodes (no cluster:/anycast: sections), to compare.
// --auth: the client is not trusted: its phones authenticate with digest (scenarios auth-register,
//   auth-call) against a subscriber file written to the run directory.
// --no-watchdog: no health watchdog per host (lab/watchdog.mjs); a dead node's route then goes
// only when OSPF's dead interval (4 s) expires, and only if its ospfd dies too.
//
// An existing lab is torn down first. Needs root. See README.md, "The lab".

import { argv } from 'zx';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, links, namespaces } from './topology.mjs';
import { frrFiles, nodeYaml, subscribersYaml } from './lib/render.mjs';
import { installRules, syncLb } from './lib/lb.mjs';
import {
  checkLock, FRR_BIN, FRR_TMP, LAB, PIDS, QUAGGA_LIVE, ROOT, RUN, anycastNexthops, die, ensureDir, frrOwner, ip, labNamespaces, loadState, log, nsHttpGet, nsh,
  pidAlive, registerPid, requireRoot, saveState, schemaKeys, sh, startProcess, waitFor,
} from './lib/lab.mjs';
import { teardown } from './lib/teardown.mjs';
import { LAB_PASSWORD, LAB_USER, startDefaultUas as startUas } from './lib/sipp.mjs';
import { nodeConfig, startNode } from './lib/nodes.mjs';

requireRoot('up');
checkLock('up');
const t0 = Date.now();
let desc;
try {
  desc = describe({
    nodes: argv.nodes === undefined ? undefined : Number(argv.nodes),
    mode: argv.mode,
    spray: argv.spray,
    cluster: argv.cluster === undefined ? undefined : argv.cluster !== false && argv.cluster !== 'off' && argv.cluster !== 'false',
    anycastMode: argv['anycast-mode'],
    auth: Boolean(argv.auth),
  });
} catch (e) {
  die(e.message);
}

// Tools: installs what is missing as root (Debian), fails loudly otherwise.
const tools = sh('node', [join(ROOT, 'scripts', 'ensure-system-tools.mjs'), 'sipp', 'frr', 'nftables', 'tshark', 'iproute2'], { ok: false, timeout: 600_000 });
if (process.env.ANYSIP_LAB_VERBOSE) process.stdout.write(tools);
if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) die('dist/ is not built: run `npm run build` first');

if (loadState() || labNamespaces().length) {
  log('a lab is already up: tearing it down first');
  await teardown({ quiet: true });
}

const state = {
  desc,
  startedAt: new Date().toISOString(),
  // FRR's crash-log dirs that were there before: down removes only the ones our daemons leave.
  varTmpFrrExisted: existsSync(FRR_TMP),
  frrTmpBefore: existsSync(FRR_TMP) ? readdirSync(FRR_TMP) : [],
};
ensureDir(RUN);
saveState(state);

try {
  // ---- namespaces, links, addresses
  for (const ns of namespaces(desc)) {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    nsh(ns, 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
  }
  nsh(desc.router.ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1']);
  for (const l of links(desc)) {
    ip(['link', 'add', l.a.iface, 'netns', l.a.ns, 'type', 'veth', 'peer', 'name', l.b.iface, 'netns', l.b.ns]);
  }
  const addr = (ns, iface, a, p) => {
    ip(['-n', ns, 'addr', 'add', `${a}/${p}`, 'dev', iface]);
    ip(['-n', ns, 'link', 'set', iface, 'up']);
  };
  for (const i of desc.router.ifaces) addr(desc.router.ns, i.name, i.address, i.prefix);
  addr(desc.client.ns, desc.client.iface, desc.client.address, desc.client.prefix);
  ip(['-n', desc.client.ns, 'route', 'add', 'default', 'via', desc.client.gateway]);
  addr(desc.core.ns, desc.core.iface, desc.core.address, desc.core.prefix);
  ip(['-n', desc.core.ns, 'route', 'add', 'default', 'via', desc.core.gateway]);
  for (const n of desc.nodes) {
    addr(n.ns, n.iface, n.address, n.prefix);
    ip(['-n', n.ns, 'addr', 'add', `${desc.anycast}/32`, 'dev', 'lo']);
  }
  log(`namespaces: ${namespaces(desc).join(' ')}`);

  // ---- FRR: zebra + ospfd per namespace, configs rendered into lab/quagga/live/
  const frr = frrOwner();
  ensureDir(PIDS, frr); // the FRR daemons (user frr) write their own pid files here
  rmSync(QUAGGA_LIVE, { recursive: true, force: true });
  const files = frrFiles(desc);
  for (const [rel, text0] of Object.entries(files)) {
    const ns = rel.split('/')[0];
    const frrRun = ensureDir(join(RUN, 'frr', ns), frr);
    const text = text0.replaceAll('__LOGDIR__', frrRun);
    mkdirSync(join(QUAGGA_LIVE, ns), { recursive: true });
    writeFileSync(join(QUAGGA_LIVE, rel), text);
  }
  for (const ns of [desc.router.ns, ...desc.nodes.map((n) => n.ns)]) {
    const frrRun = join(RUN, 'frr', ns);
    for (const daemon of ['zebra', 'ospfd']) {
      const name = `frr-${ns}-${daemon}`;
      const pidFile = registerPid(name, `${FRR_BIN}/${daemon}`);
      // -N would move every path under /var/run/frr/<ns>/ and /etc/frr/<ns>/; explicit paths keep it all in RUN.
      nsh(ns, `${FRR_BIN}/${daemon}`, [
        '-d', '-f', join(QUAGGA_LIVE, ns, `${daemon}.conf`), '-i', pidFile,
        '-z', join(frrRun, 'zserv.api'), '--vty_socket', frrRun, '-P', '0',
        '--log', `file:${join(frrRun, `${daemon}.log`)}`,
      ]);
      // the daemon writes its pid file itself (as user frr) once up
      await waitFor(`${daemon} in ${ns}`, () => pidAlive(name), 10_000, 50);
      if (daemon === 'zebra') await waitFor(`zebra socket in ${ns}`, () => existsSync(join(frrRun, 'zserv.api')), 10_000, 50);
    }
  }
  log('FRR zebra + ospfd started in the router and every anysip host');

  // ---- per-packet spraying on the router
  if (desc.mode === 'per-packet') installRules(desc);

  // ---- OSPF convergence: the router sees N equal-cost next hops for the anycast /32
  const tConv = Date.now();
  await waitFor(`OSPF: ${desc.nodes.length} next hops for ${desc.anycast}/32 in ${desc.router.ns}`, () => anycastNexthops(desc.router.ns, desc.anycast).length === desc.nodes.length, 60_000, 250);
  for (const n of desc.nodes) {
    await waitFor(`OSPF routes to the client and core networks in ${n.ns}`, () => {
      const r = nsh(n.ns, 'ip', ['route', 'show', 'proto', 'ospf'], { ok: true });
      return r.includes(desc.client.network) && r.includes(desc.core.network);
    }, 60_000, 250);
  }
  state.ospfConvergedMs = Date.now() - tConv;
  log(`OSPF converged in ${state.ospfConvergedMs} ms: ${desc.nodes.length} equal-cost next hops for ${desc.anycast}/32`);

  if (desc.mode === 'per-packet') {
    syncLb(desc);
    saveState(state);
    startProcess({ name: 'lb-sync', ns: null, cmd: process.execPath, args: [join(LAB, 'lb-sync.mjs'), join(RUN, 'state.json')], logFile: join(RUN, 'logs', 'lb-sync.log'), expect: 'lb-sync.mjs' });
    log(`per-packet: nft table ${desc.lb.table} sprays ${desc.anycast} over ${desc.nodes.length} marks (numgen ${desc.spray}); lb-sync follows OSPF`);
  }

  // ---- anysip nodes
  const keys = schemaKeys();
  state.clusterRendered = desc.cluster.enabled && keys.includes('cluster');
  if (desc.auth.enabled) writeFileSync(join(RUN, 'subscribers.yaml'), subscribersYaml(desc, LAB_USER, LAB_PASSWORD));
  for (const n of desc.nodes) {
    const cfg = nodeConfig(n);
    ensureDir(join(RUN, 'nodes'));
    writeFileSync(cfg, nodeYaml(desc, n, keys, RUN));
    const check = spawnSync(process.execPath, [join(ROOT, 'bin', 'anysip.mjs'), 'start', '--config', cfg, '--check'], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`the rendered config of ${n.name} is not valid for this build (lab/lib/render.mjs nodeYaml must follow src/config):\n${(check.stderr || check.stdout).trim()}`);
    startNode(n);
  }
  for (const n of desc.nodes) {
    await waitFor(`anysip ${n.name} admin /status in ${n.ns} (log: ${join(RUN, 'logs', `${n.name}.log`)})`, () => nsHttpGet(n.ns, `http://${n.admin.address}:${n.admin.port}/status`), 20_000, 200);
  }
  if (state.clusterRendered) {
    const tBus = Date.now();
    for (const n of desc.nodes) {
      await waitFor(`the cluster bus: ${n.name} sees ${desc.nodes.length} nodes up`, () => {
        const s = JSON.parse(nsHttpGet(n.ns, `http://${n.admin.address}:${n.admin.port}/status`) || '{}');
        return s.cluster?.up?.length === desc.nodes.length;
      }, 30_000, 200);
    }
    state.clusterUpMs = Date.now() - tBus;
    log(`cluster bus: every node sees ${desc.nodes.length} members up (${state.clusterUpMs} ms)`);
  }
  log(`anysip nodes up: ${desc.nodes.map((n) => `${n.name} (${n.address}, anycast ${desc.anycast})`).join(', ')}`);

  // ---- one health watchdog per host: withdraws the host's anycast route when its node stops answering
  if (argv.watchdog !== false) {
    for (const n of desc.nodes) {
      startProcess({
        name: `watchdog-${n.name}`, ns: n.ns, cmd: process.execPath,
        args: [join(LAB, 'watchdog.mjs'), join(RUN, 'state.json'), n.name],
        logFile: join(RUN, 'logs', `watchdog-${n.name}.log`), expect: 'watchdog.mjs',
      });
    }
    state.watchdog = true;
    log(`health watchdogs: one per host (lab/watchdog.mjs), withdraw after 3 failed probes 250 ms apart`);
  }

  // ---- the default UAS in the core (run.mjs swaps it for each scenario's own UAS)
  startUas(desc);
  state.readyMs = Date.now() - t0;
  saveState(state);
  log(`lab up in ${(state.readyMs / 1000).toFixed(1)} s: mode ${desc.mode}, ${desc.nodes.length} nodes, anycast ${desc.anycast}:${desc.sipPort}, client ${desc.client.address}, core UAS ${desc.core.address}:${desc.core.uasPort}`);
  log(`next: npx zx lab/run.mjs --scenario basic --calls 200 --rate 50   |   npx zx lab/down.mjs`);
} catch (e) {
  console.error(`\n*** lab up failed: ${e.stack ?? e.message}\n(the partial lab is left up for inspection: logs in ${join(RUN, 'logs')} and ${join(RUN, 'frr')}; npx zx lab/down.mjs removes it)`);
  process.exit(1);
}

