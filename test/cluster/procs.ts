// Real `anysip start` processes for the multi-process tests (dist/ built by
// `npm test`'s pretest): start one with a pid file, kill it by its own PID,
// and wait for a condition.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/anysip.mjs');

export interface Proc {
  child: ChildProcess;
  out: string;
  exit: Promise<number | null>;
}

export function requireDist(): void {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ missing: run `npm run build` (npm test does it in pretest)');
}

/** `anysip start --config CONFIG`, its pid file in `dir`; stdout and stderr collected in `out`. */
export function startProc(config: string, dir: string, name: string): Proc {
  const pidFile = join(dir, `${name}-${Date.now()}.pid`);
  const child = spawn(process.execPath, [BIN, 'start', '--config', config, '--pid-file', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout!.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.out += d.toString()));
  return p;
}

/** Signal a process we started, by its PID, if it is still running. */
export function killProc(p: Proc | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (p?.child.pid && p.child.exitCode === null && p.child.signalCode === null) process.kill(p.child.pid, signal);
}

/** Poll `probe` every 20 ms until it gives a value; throw after `ms`. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
