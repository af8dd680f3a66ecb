// CPU profile of anysip under the bench's SIPp load:
//
//   npx tsx bench/profile.ts [--calls 20000] [--rate 1000] [--top 40]
//
// Builds nothing (run `npm run build` first), starts `anysip start` with
// --cpu-prof, drives the calls through it, stops it by PID, and prints the
// functions with the most self time (the .cpuprofile stays in the run
// directory for Chrome DevTools / speedscope).

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep, treeCpu, waitExit } from './lib/proc.js';
import { Sipp } from './lib/sipp.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const CALLS = opt('--calls', 20000);
const RATE = opt('--rate', 1000);
const TOP = opt('--top', 40);
const dir = mkdtempSync(join(tmpdir(), 'anysip-prof-'));

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

async function main(): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', dir, join(REPO, 'bin/anysip.mjs'), 'start', '--config', join(REPO, 'bench/anysip.yaml')],
    { cwd: REPO, stdio: 'inherit' },
  );
  await sleep(1500);
  const pid = child.pid!;
  const uas = new Sipp({ scenario: join(REPO, 'bench/scenarios/uas.xml'), dir, name: 'uas', localPort: 5090, calls: CALLS, timeoutS: CALLS / RATE + 60 });
  await sleep(300);
  const c0 = treeCpu(pid);
  const uac = new Sipp({
    scenario: join(REPO, 'bench/scenarios/uac.xml'), dir, name: 'uac', remote: '127.0.0.1:5080', localPort: 5091,
    calls: CALLS, rate: RATE, pauseMs: 100, service: 'service', recvTimeoutMs: 10000, timeoutS: CALLS / RATE + 60,
  });
  const r = await uac.result();
  await Promise.race([uas.done, sleep(3000)]);
  await uas.stop();
  const c1 = treeCpu(pid);
  process.kill(pid, 'SIGTERM');
  await waitExit(pid, 10000);
  await sleep(500);
  console.log(`${r.successful}/${CALLS} calls ok, ${r.failed} failed; ${(((c1.schedS - c0.schedS) / Math.max(1, r.successful)) * 1e6).toFixed(1)} us CPU per call (schedstat, profiler on)`);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const self = new Map<number, number>();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  let total = 0;
  for (const n of prof.nodes) {
    const t = self.get(n.id) ?? 0;
    total += t;
    const f = n.callFrame;
    const key = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
  }
  const idle = [...byFn].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  console.log(`profile ${join(dir, file)}: ${(total / 1e3).toFixed(0)} ms sampled, ${((total - idle) / 1e3).toFixed(0)} ms busy`);
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${(k.startsWith('(idle)') ? 0 : (v / Math.max(1, total - idle)) * 100).toFixed(1).padStart(5)}%  ${(v / 1e3).toFixed(1).padStart(8)} ms  ${k}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
