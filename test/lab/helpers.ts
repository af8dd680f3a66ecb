// Drives the lab's zx commands as a user would, for test/lab/*.test.ts.

import { spawn, spawnSync } from 'node:child_process';
import test from 'ava';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ZX = join(ROOT, 'node_modules', '.bin', 'zx');
export const RUN = process.env.ANYSIP_LAB_RUN ?? '/run/anysip-lab';

export interface Cmd {
  code: number | null;
  out: string;
  ms: number;
}

/** Run `zx lab/SCRIPT.mjs ARGS...` and collect its output (stdout + stderr). */
export function zx(script: string, args: string[] = [], timeoutMs = 180_000): Promise<Cmd> {
  const t0 = Date.now();
  return new Promise((res) => {
    const child = spawn(ZX, [join(ROOT, 'lab', script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      out += `\n[test] ${script} timed out after ${timeoutMs} ms: SIGTERM to its pid ${child.pid}`;
      if (child.pid) process.kill(child.pid, 'SIGTERM');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out, ms: Date.now() - t0 });
    });
  });
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Install (as root) the system tools the lab needs; returns the problem, or undefined when all is there. */
export function ensureTools(): string | undefined {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-system-tools.mjs'), 'sipp', 'frr', 'nftables', 'tshark', 'iproute2'], { encoding: 'utf8', timeout: 900_000 });
  if (r.status === 0) return undefined;
  return `scripts/ensure-system-tools.mjs sipp frr nftables tshark iproute2 failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`;
}

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}` } });
  return r.stdout ?? '';
}

/** Next hops of the anycast /32 in a namespace's main table (or `table`). */
export function nexthops(ns: string, prefix: string, table?: string): { gateway: string; dev: string; protocol?: string }[] {
  const out = sh('ip', ['-n', ns, '-j', 'route', 'show', prefix, ...(table ? ['table', table] : [])]).trim();
  if (!out) return [];
  const routes = JSON.parse(out) as { gateway?: string; dev?: string; protocol?: string; nexthops?: { gateway: string; dev: string }[] }[];
  return routes.flatMap((r) => (r.nexthops ? r.nexthops.map((h) => ({ ...h, protocol: r.protocol })) : r.gateway ? [{ gateway: r.gateway, dev: r.dev!, protocol: r.protocol }] : []));
}

export function labNamespaces(): string[] {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith('anysip-lab-'));
}

export interface RunReport {
  calls: { ok: number; failed: number; requested: number };
  mode: string;
  nodes: Record<string, { packets: Record<string, number>; fromClient: Record<string, number>; total: number; forwarded: Record<string, number>; takenOver: Record<string, number> }>;
  capture: { file: string; frames: number };
}

export function readReport(file: string): RunReport {
  return JSON.parse(readFileSync(file, 'utf8')) as RunReport;
}

/** A short tail of a command's output for assertion messages. */
export function tail(s: string, n = 40): string {
  return s.split('\n').filter((l) => l && !l.startsWith('npm warn')).slice(-n).join('\n');
}

export const LOCK = `${RUN}.lock`;

function lockHolder(): number {
  try {
    return Number(readFileSync(LOCK, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/**
 * Hold the lab for this test file (one lab per machine: fixed anysip-lab-* names): wait while another
 * live process holds /run/anysip-lab.lock (another lab test file of the same `npm test` run, ava runs
 * files in parallel), then take it atomically. lab/*.mjs started by anyone else refuse the lab meanwhile.
 */
export async function holdLabLock(timeoutMs = 15 * 60_000, log: (s: string) => void = () => {}): Promise<void> {
  const until = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const holder = lockHolder();
    if (holder === process.pid) return;
    if (holder && existsSync(`/proc/${holder}`)) {
      if (!said) log(`waiting for the lab: ${LOCK} is held by pid ${holder}`);
      said = true;
      if (Date.now() > until) throw new Error(`another lab run (pid ${holder}) held ${LOCK} for more than ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (holder) rmSync(LOCK, { force: true }); // its holder is gone
    try {
      writeFileSync(LOCK, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch {
      // someone took it between our read and our write: wait for them
    }
  }
}

/** Release the lab lock if this process holds it. */
export function releaseLabLock(): void {
  if (lockHolder() === process.pid) rmSync(LOCK, { force: true });
}

/**
 * The fixture every lab test file shares: without root it registers one test that FAILS, loudly
 * (never a silent skip), and returns false; as root it holds the lab lock for the file's run (one
 * lab per machine: another lab test file of the same run waits its turn), installs the system
 * tools, and tears the lab down afterwards. Register the file's tests only when it returns true.
 */
export function useLab(file: string, cleanup?: () => void): boolean {
  if (!isRoot()) {
    test(`${file} needs root`, (t) => {
      t.fail(`${file} needs root (network namespaces, veths, FRR, nftables, tshark): run \`npm test\` as root. It fails instead of skipping on purpose.`);
    });
    return false;
  }
  test.before(async (t) => {
    await holdLabLock(15 * 60_000, (s) => t.log(s));
    const problem = ensureTools();
    if (problem) throw new Error(`the lab's system tools are missing and could not be installed: ${problem}`);
  });
  test.after.always(async () => {
    await zx('down.mjs');
    releaseLabLock();
    cleanup?.();
  });
  return true;
}
