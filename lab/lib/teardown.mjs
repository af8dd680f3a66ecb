// Tear the lab down: every process of ours by its pid file, then the namespaces
// (which takes the veths, addresses, routes, ip rules and nft tables inside them along),
// FRR's leftovers and the run dir. Idempotent: safe to run any number of times.

import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { FRR_TMP, QUAGGA_LIVE, RUN, cmdline, ip, labNamespaces, loadState, log, pidNames, readPid, sh, stopPid } from './lab.mjs';

/** Stop order: traffic first, then the nodes, the balancer and FRR last. */
function order(name) {
  if (name.startsWith('uac') || name.startsWith('tshark') || name.startsWith('replay')) return 0;
  if (name.startsWith('uas') || name.startsWith('watchdog')) return 1;
  if (name.startsWith('anysip-')) return 2;
  if (name === 'lb-sync') return 3;
  if (name.endsWith('-ospfd')) return 4;
  return 5;
}

export async function teardown({ quiet = false } = {}) {
  const say = quiet ? () => {} : log;
  const state = (() => {
    try {
      return loadState();
    } catch {
      return undefined;
    }
  })();
  const frrPids = [];
  const names = pidNames().sort((a, b) => order(a) - order(b));
  for (const name of names) {
    const pid = readPid(name);
    if (name.startsWith('frr-') && pid) frrPids.push({ daemon: name.endsWith('-zebra') ? 'zebra' : 'ospfd', pid });
    const stopped = await stopPid(name);
    if (stopped) say(`stopped ${name} (pid ${stopped})`);
  }
  const nss = new Set([...labNamespaces(), ...(state?.desc ? nsOf(state.desc) : [])]);
  for (const ns of nss) {
    const pids = sh('ip', ['netns', 'pids', ns], { ok: true }).trim().split(/\s+/).filter(Boolean);
    if (pids.length) {
      // Not started by the lab (those had pid files): say so, never kill them.
      console.error(`[lab] warning: processes not started by the lab still run in ${ns}: ${pids.map((p) => `${p} (${(cmdline(p) ?? '?').slice(0, 60)})`).join(', ')}; the namespace lives on until they exit`);
    }
    ip(['netns', 'del', ns], { ok: true });
    say(`deleted namespace ${ns}`);
  }
  // FRR crash-log dirs of our daemons (a clean exit removes them; a SIGKILL does not).
  for (const { daemon, pid } of frrPids) rmSync(join(FRR_TMP, `${daemon}.${pid}`), { recursive: true, force: true });
  // ...and those of daemons that died before writing a pid file (new since up, process gone).
  if (state?.frrTmpBefore && existsSync(FRR_TMP)) {
    for (const d of readdirSync(FRR_TMP)) {
      const m = /^(zebra|ospfd)\.(\d+)$/.exec(d);
      if (m && !state.frrTmpBefore.includes(d) && !existsSync(`/proc/${m[2]}`)) rmSync(join(FRR_TMP, d), { recursive: true, force: true });
    }
  }
  if (state && state.varTmpFrrExisted === false && existsSync(FRR_TMP)) {
    try {
      if (readdirSync(FRR_TMP).length === 0) rmdirSync(FRR_TMP);
    } catch {
      // not empty or gone: leave it
    }
  }
  rmSync(QUAGGA_LIVE, { recursive: true, force: true });
  rmSync(RUN, { recursive: true, force: true });
  return { namespaces: [...nss], processes: names };
}

function nsOf(desc) {
  return [desc.router.ns, desc.client.ns, ...desc.nodes.map((n) => n.ns), desc.core.ns];
}
