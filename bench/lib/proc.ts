// What the bench reads from /proc: CPU time, memory and the process tree of
// the proxies it started. Linux only, no dependencies.

import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: fields start after the last ')'.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** [utime, stime] of a process (all its threads), in clock ticks. */
export function cpuTicks(pid: number): [number, number] {
  const f = statFields(pid);
  if (!f) return [0, 0];
  // after ')': state(3) ppid(4) ... utime(14) stime(15) -> indexes 11 and 12
  return [Number(f[11]), Number(f[12])];
}

/** Time on CPU of every thread of a process, in nanoseconds (/proc/<pid>/task/<tid>/schedstat). */
export function cpuNs(pid: number): number {
  let sum = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // thread ended between readdir and read
    }
  }
  return sum;
}

export function isAlive(pid: number): boolean {
  return statFields(pid) !== undefined && statFields(pid)![0] !== 'Z';
}

/** The process and all its descendants (Kamailio forks its workers from the main process). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const f = statFields(pid);
    if (!f) continue;
    const ppid = Number(f[1]);
    let list = children.get(ppid);
    if (!list) children.set(ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  if (isAlive(root)) walk(root);
  return out;
}

export interface Cpu {
  /** utime+stime in seconds, from clock ticks */
  ticksS: number;
  /** of which stime (kernel: system calls, the UDP stack) */
  sysS: number;
  /** schedstat time on CPU in seconds (ns resolution) */
  schedS: number;
}

/** `later - earlier`, divided by `seconds` for a rate per second. */
export function cpuDelta(later: Cpu, earlier: Cpu, seconds = 1): Cpu {
  return { ticksS: (later.ticksS - earlier.ticksS) / seconds, sysS: (later.sysS - earlier.sysS) / seconds, schedS: (later.schedS - earlier.schedS) / seconds };
}

export function cpuSum(a: Cpu, b: Cpu): Cpu {
  return { ticksS: a.ticksS + b.ticksS, sysS: a.sysS + b.sysS, schedS: a.schedS + b.schedS };
}

/** CPU per second of each of `procs` while they sit idle for `seconds` (the caller makes sure they do). */
export async function idleRates(procs: ReadonlyArray<{ cpu(): Cpu }>, seconds: number): Promise<Cpu[]> {
  const before = procs.map((p) => p.cpu());
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const s = (Date.now() - t0) / 1000;
  return procs.map((p, i) => cpuDelta(p.cpu(), before[i]!, s));
}

/** CPU of a process tree, summed. */
export function treeCpu(root: number): Cpu {
  let ticks = 0;
  let sys = 0;
  let ns = 0;
  for (const pid of processTree(root)) {
    const [u, s] = cpuTicks(pid);
    ticks += u + s;
    sys += s;
    ns += cpuNs(pid);
  }
  return { ticksS: ticks / CLK_TCK, sysS: sys / CLK_TCK, schedS: ns / 1e9 };
}

function statusKb(pid: number, key: string): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'latin1').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function pssKb(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1').match(/^Pss:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface Mem {
  /** sum of VmRSS over the tree, bytes (shared pages counted once per process) */
  rss: number;
  /** sum of PSS over the tree, bytes (shared pages split between the processes: no double count) */
  pss: number;
  processes: number;
}

export function treeMem(root: number): Mem {
  let rss = 0;
  let pss = 0;
  const pids = processTree(root);
  for (const pid of pids) {
    rss += statusKb(pid, 'VmRSS') * 1024;
    pss += pssKb(pid) * 1024;
  }
  return { rss, pss, processes: pids.length };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until a process has exited (polling /proc), up to ms. */
export async function waitExit(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}
