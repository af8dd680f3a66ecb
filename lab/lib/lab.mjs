// Shared helpers of the lab scripts: paths, namespaces, processes with pid files, waiting.
//
// Safety rules this file enforces for every script:
//  - every namespace / veth / nft table the lab creates is named anysip-... (see topology.mjs);
//  - every process the lab starts has a pid file under RUN/pids/ next to a .cmd file naming
//    what its command line must contain; stopping checks that before signalling, by PID only;
//  - traffic stays inside the lab's own namespaces.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync, chownSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// System tools first: under npx, node_modules/.bin comes first in PATH, and it has an `nft`
// (@vercel/nft) that is not nftables. Children (ip netns exec ...) inherit this PATH.
process.env.PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin', process.env.PATH ?? ''].join(':');

export const LAB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(LAB, '..');
/** Runtime state: pid files, logs, FRR sockets, node configs, captures. Removed by down. */
export const RUN = process.env.ANYSIP_LAB_RUN ?? '/run/anysip-lab';
export const PIDS = join(RUN, 'pids');
export const STATE = join(RUN, 'state.json');
/** FRR configs rendered at up time (the committed example for the default topology is lab/quagga/default/). */
export const QUAGGA_LIVE = join(LAB, 'quagga', 'live');
export const FRR_BIN = '/usr/lib/frr';
/** FRR keeps crash-log dirs here, named <daemon>.<pid>; removed on a clean exit, by down otherwise. */
export const FRR_TMP = '/var/tmp/frr';

export function log(...a) {
  console.log('[lab]', ...a);
}

export function die(msg) {
  console.error(`\n*** lab: ${msg}\n`);
  process.exit(1);
}

export function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function requireRoot(what) {
  if (!isRoot()) die(`${what} needs root (network namespaces, veths, FRR, nftables, tshark). Run it as root, e.g. sudo npx zx lab/${what}.mjs`);
}

/** Run a command synchronously; throws with stderr on failure unless opts.ok. Returns stdout. */
export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeout ?? 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) {
    if (opts.ok) return '';
    throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  }
  if (r.status !== 0 && !opts.ok) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Run a command inside a namespace. */
export function nsh(ns, cmd, args, opts) {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export function ip(args, opts) {
  return sh('ip', args, opts);
}

/** Names of existing network namespaces. */
export function listNamespaces() {
  return sh('ip', ['-j', 'netns', 'list'], { ok: true })
    .trim()
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      try {
        return JSON.parse(line).map((x) => x.name);
      } catch {
        return [];
      }
    });
}

export function labNamespaces() {
  return listNamespaces().filter((n) => n.startsWith('anysip-lab-'));
}

export function loadState() {
  if (!existsSync(STATE)) return undefined;
  return JSON.parse(readFileSync(STATE, 'utf8'));
}

export function saveState(state) {
  mkdirSync(RUN, { recursive: true });
  writeFileSync(STATE, JSON.stringify(state, null, 2) + '\n');
}

export function requireUp() {
  const st = loadState();
  if (!st) die(`the lab is not up (no ${STATE}). Start it with: npx zx lab/up.mjs`);
  if (!st.readyMs) die(`the lab did not come up completely (see the output of lab/up.mjs and the logs in ${RUN}/logs). Rebuild it: npx zx lab/up.mjs`);
  return st;
}

export function ensureDir(p, owner) {
  mkdirSync(p, { recursive: true });
  if (owner) chownSync(p, owner.uid, owner.gid);
  return p;
}

/** uid/gid of the frr user (the FRR daemons drop to it), for the dirs they must write. */
export function frrOwner() {
  const pw = sh('getent', ['passwd', 'frr'], { ok: true }).trim().split(':');
  if (pw.length < 4) die('user frr does not exist: is the Debian package frr installed? (node scripts/ensure-system-tools.mjs frr)');
  return { uid: Number(pw[2]), gid: Number(pw[3]) };
}

function pidPath(name) {
  return join(PIDS, `${name}.pid`);
}

/** Remember what a pid file's process must look like, so a recycled PID is never signalled. */
export function registerPid(name, expect, pid) {
  ensureDir(PIDS);
  writeFileSync(join(PIDS, `${name}.cmd`), expect + '\n');
  if (pid !== undefined) writeFileSync(pidPath(name), `${pid}\n`);
  return pidPath(name);
}

export function readPid(name) {
  try {
    const n = Number(readFileSync(pidPath(name), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** Is the process of this pid file alive and still the one we started? */
export function pidAlive(name) {
  const pid = readPid(name);
  if (!pid) return false;
  const cl = cmdline(pid);
  if (cl === undefined) return false;
  let expect = '';
  try {
    expect = readFileSync(join(PIDS, `${name}.cmd`), 'utf8').trim();
  } catch {
    // no .cmd: accept any command line
  }
  const st = procState(pid);
  return cl.includes(expect) && st !== 'Z';
}

function procState(pid) {
  try {
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Stop one process of ours by its pid file: SIGTERM (or `signal`), then SIGKILL after `graceMs`. Idempotent. */
export async function stopPid(name, { signal = 'SIGTERM', graceMs = 4000 } = {}) {
  const pid = readPid(name);
  if (pid && pidAlive(name)) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
    const until = Date.now() + graceMs;
    while (Date.now() < until && pidAlive(name)) await sleep(50);
    if (pidAlive(name)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      const until2 = Date.now() + 2000;
      while (Date.now() < until2 && pidAlive(name)) await sleep(50);
    }
  }
  rmSync(pidPath(name), { force: true });
  rmSync(join(PIDS, `${name}.cmd`), { force: true });
  return pid;
}

/** Names of every pid file under RUN/pids. */
export function pidNames() {
  if (!existsSync(PIDS)) return [];
  return [...new Set(readdirSync(PIDS).filter((f) => f.endsWith('.pid') || f.endsWith('.cmd')).map((f) => f.replace(/\.(pid|cmd)$/, '')))];
}

/**
 * Start a long-running process in a namespace, detached, output to a log file,
 * and record its pid file. `ip netns exec` execs the command, so the PID is the command's own.
 */
export function startProcess({ name, ns, cmd, args, logFile, expect, cwd = ROOT, stdoutToNull = false }) {
  ensureDir(dirname(logFile));
  const fd = openSync(logFile, 'a');
  const out = stdoutToNull ? 'ignore' : fd;
  const [c, a] = ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
  const child = spawn(c, a, { cwd, detached: true, stdio: ['ignore', out, fd] });
  closeSync(fd);
  child.unref();
  registerPid(name, expect ?? cmd, child.pid);
  return child;
}

/** Poll `fn` until it returns a truthy value; throws with `what` after timeoutMs. */
export async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 200) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

/** The anycast route in a namespace: its next hops as [{gateway, dev}] (empty when absent). */
export function anycastNexthops(ns, anycast, table) {
  const args = ['netns', 'exec', ns, 'ip', '-j', 'route', 'show', `${anycast}/32`];
  if (table) args.push('table', String(table));
  const out = sh('ip', args, { ok: true }).trim();
  if (!out) return [];
  let routes;
  try {
    routes = JSON.parse(out);
  } catch {
    return [];
  }
  const hops = [];
  for (const r of routes) {
    if (r.nexthops) for (const h of r.nexthops) hops.push({ gateway: h.gateway, dev: h.dev });
    else if (r.gateway) hops.push({ gateway: r.gateway, dev: r.dev });
  }
  return hops;
}

/** HTTP GET inside a namespace (admin API on the node's loopback). */
export function nsHttpGet(ns, url, timeoutS = 3) {
  return nsh(ns, 'curl', ['-sf', '--max-time', String(timeoutS), url], { ok: true });
}

/** Top-level keys the config schema of the built dist/ knows (to render cluster:/anycast: once they exist). */
export function schemaKeys() {
  const f = join(ROOT, 'dist', 'config', 'schema.js');
  if (!existsSync(f)) return [];
  const text = readFileSync(f, 'utf8');
  const m = /configSchema\s*=\s*z\s*\.strictObject\(\{([\s\S]*?)\n\}\)/.exec(text);
  const body = m ? m[1] : text;
  return [...body.matchAll(/^\s{4}([a-z_]+):/gm)].map((x) => x[1]);
}

/** Forget a pid file of a process that has exited on its own. */
export function rmPid(name) {
  rmSync(pidPath(name), { force: true });
  rmSync(join(PIDS, `${name}.cmd`), { force: true });
}

/**
 * One lab per machine (fixed namespace names). A test run (or anyone) may hold the lab by
 * writing its pid into LOCK; up/run/replay/down then refuse to touch the lab from any process
 * that is not that pid or one of its descendants, instead of two runs tearing each other's lab down.
 */
export const LOCK = `${RUN}.lock`;

function parentOf(pid) {
  try {
    return Number(/\) \S+ (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]);
  } catch {
    return 0;
  }
}

/** The pid holding the lab, if it is alive and is not this process or an ancestor of it. */
export function lockedByOther() {
  let holder;
  try {
    holder = Number(readFileSync(LOCK, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!holder || !existsSync(`/proc/${holder}`)) return undefined;
  for (let p = process.pid; p > 1; p = parentOf(p)) if (p === holder) return undefined;
  return holder;
}

export function checkLock(what) {
  const other = lockedByOther();
  if (other) die(`${what}: the lab is held by process ${other} (${(cmdline(other) ?? '?').slice(0, 120)}), e.g. a test run; wait for it or remove ${LOCK} if that is wrong`);
}
