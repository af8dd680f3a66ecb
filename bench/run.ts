// `npm run bench`: anysip next to Kamailio on this machine, same SIPp load,
// runs alternated so drift hits both alike. Writes bench/RESULTS.md and
// appends a summary line to bench/history.jsonl. See bench/README.md.
//
//   npm run bench                       full run (~12 min), regenerates bench/RESULTS.md
//   npm run bench -- --quick            smoke run (~3 min), writes to the run directory only
//   npm run bench -- --only cpu,mem     some phases (cpu, mem, rate, cluster); out file as above
//   npm run bench -- --label "text"     note stored with the history line
//   npm run bench -- --kam8             also Kamailio with 8 workers (its default children=8)

import { spawnSync, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuDelta, idleRates, isAlive, sleep, type Cpu } from './lib/proc.js';
import { AnysipCluster, CLUSTER_PORT, clusterPhase, renderCluster, runBusBench, type ClusterFigures } from './lib/cluster.js';
import { systemCommand } from '../scripts/ensure-system-tools.mjs';
import { AnysipProxy, KamailioProxy, type MemSample, type ProxyUnderTest } from './lib/proxies.js';
import { killAllSipp, percentiles, rttSamples, shortMsgLatencies, Sipp, type CallOptions, type CallRun, type CallTarget, type Latency } from './lib/sipp.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(REPO, 'bench');
const UAC_XML = join(BENCH, 'scenarios/uac.xml');
const UAS_XML = join(BENCH, 'scenarios/uas.xml');
const KAM_CFG = join(BENCH, 'kamailio/kamailio.cfg');
const ANYSIP_CFG = join(BENCH, 'anysip.yaml');

const PORT = { kam1: 5070, kam8: 5071, anysip: 5080, uas: 5090, uac: 5091 } as const;
const UAS_URI = `sip:127.0.0.1:${PORT.uas}`;

// ---- options ------------------------------------------------------------------

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const value = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const QUICK = flag('--quick');
const PHASES = ['cpu', 'mem', 'rate', 'cluster'];
const ONLY = new Set((value('--only') ?? PHASES.join(',')).split(','));
for (const ph of ONLY) if (!PHASES.includes(ph)) throw new Error(`--only: unknown phase "${ph}" (phases: ${PHASES.join(', ')})`);
const WITH_KAM8 = flag('--kam8');
const LABEL = value('--label') ?? '';
const FULL = !QUICK && ONLY.size === PHASES.length;

const P = QUICK
  ? {
      warmup: { calls: 1000, rate: 500 },
      cpu: { rounds: 1, calls: 2000, rate: 500, idleS: 5, tailS: 35 },
      mem: { calls: 2000, rate: 500, holdMs: 45000 },
      rate: { durationS: 4, start: 1000, max: 4000, bisect: 1 },
      cluster: { warmupCalls: 1000, rounds: 1, calls: 2000, rate: 500, pauseMs: 100, idleS: 5, tailS: 35, bus: { pings: 1000, frames: 20000 } },
    }
  : {
      warmup: { calls: 3000, rate: 1000 },
      cpu: { rounds: 3, calls: 6000, rate: 500, idleS: 15, tailS: 35 },
      mem: { calls: 10000, rate: 500, holdMs: 75000 },
      rate: { durationS: 8, start: 1000, max: 16000, bisect: 3 },
      cluster: { warmupCalls: 3000, rounds: 2, calls: 6000, rate: 500, pauseMs: 100, idleS: 15, tailS: 35, bus: { pings: 5000, frames: 200000 } },
    };

/** ACK -> BYE gap of the rate runs: a multi-process proxy may otherwise relay the BYE before the ACK. */
const HOLD_MS = 100;

const RUN_DIR = mkdtempSync(join(tmpdir(), 'anysip-bench-'));
const OUT = value('--out') ?? (FULL ? join(BENCH, 'RESULTS.md') : join(RUN_DIR, 'RESULTS.md'));
const HISTORY = join(BENCH, 'history.jsonl');

function log(s: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
}

function fail(s: string): never {
  process.stderr.write(`bench: ${s}\n`);
  cleanup();
  process.exit(1);
}

// ---- preflight ------------------------------------------------------------------

/** Asks the system, never PATH (under npm it starts with node_modules/.bin). */
function which(cmd: string): boolean {
  return systemCommand(cmd) !== undefined;
}

function ensureKamailio(): void {
  if (which('kamailio')) return;
  if (process.getuid?.() !== 0) {
    fail('Kamailio is not installed and this is not root: run as root (it installs the Debian package `kamailio`), or install it yourself');
  }
  log('Kamailio missing: installing the Debian package (apt-get update, apt-get install -y kamailio)');
  // The package's service must not start: a policy-rc.d that says "no" is
  // Debian's own switch for that; put one only if there is none, and remove it after.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# anysip bench: no service starts during this install\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (r.status !== 0) fail('apt-get update failed');
    r = spawnSync('apt-get', ['install', '-y', 'kamailio'], { stdio: 'inherit', env });
    if (r.status !== 0) fail('apt-get install -y kamailio failed');
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  if (!which('kamailio')) fail('kamailio still not in the system directories after installing the package');
}

/** The Debian package's own service, if something started it, is stopped by the PID in its pid file. */
function stopPackageService(): void {
  for (const file of ['/run/kamailio/kamailio.pid', '/var/run/kamailio/kamailio.pid']) {
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'latin1').trim());
    if (!pid || !isAlive(pid)) continue;
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
    } catch {
      continue;
    }
    if (comm !== 'kamailio') continue;
    log(`stopping the Debian kamailio service (pid ${pid} from ${file}) so it does not share the machine`);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
}

function udpPortFree(port: number, address = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    s.once('error', () => res(false));
    s.bind(port, address, () => s.close(() => res(true)));
  });
}

function kamailioVersion(): string {
  try {
    return execFileSync('kamailio', ['-v'], { encoding: 'utf8' }).split('\n')[0]!.replace(/^version:\s*/, '').trim();
  } catch {
    return 'unknown';
  }
}

function sippVersion(): string {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8' });
  const m = `${r.stdout}${r.stderr}`.match(/SIPp v[^\s,]+/);
  return m ? m[0] : 'unknown';
}

function gitRev(): string {
  const r = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const d = spawnSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' });
  return `${r.stdout.trim() || 'unknown'}${d.stdout.trim() ? '+dirty' : ''}`;
}

// ---- runs -----------------------------------------------------------------------

const proxies: ProxyUnderTest[] = [];

function cleanup(): void {
  killAllSipp();
  for (const p of proxies) {
    if (p.pid && isAlive(p.pid)) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
  }
}
process.on('SIGINT', () => fail('interrupted'));
process.on('SIGTERM', () => fail('terminated'));

let runNo = 0;

/** One SIPp load through a proxy: a fresh UAS, then the UAC; CPU read around it. */
async function callRun(
  p: CallTarget,
  o: CallOptions,
  during?: (uac: Sipp, uas: Sipp) => Promise<void>,
): Promise<CallRun> {
  const n = ++runNo;
  const timeoutS = o.timeoutS ?? Math.ceil(o.calls / o.rate + (o.pauseMs ?? 0) / 1000 + 40);
  const uas = new Sipp({
    scenario: UAS_XML, dir: RUN_DIR, name: `r${n}-${p.key}-uas`, localPort: PORT.uas, timeoutS: timeoutS + 5, sendTo: o.uasSendTo,
  });
  await sleep(300);
  const c0 = p.cpu();
  const t0 = Date.now();
  const uac = new Sipp({
    scenario: UAC_XML, dir: RUN_DIR, name: `r${n}-${p.key}-uac`, remote: `127.0.0.1:${p.port}`, localPort: PORT.uac,
    calls: o.calls, rate: o.rate, pauseMs: o.pauseMs ?? 0, service: 'service',
    recvTimeoutMs: o.recvTimeoutMs ?? 10000, timeoutS, shortMsg: o.shortMsg, rtt: o.rtt,
  });
  if (during) await during(uac, uas);
  const ur = await uac.result();
  // The UAS runs until stopped: once its calls are done (it keeps each 1 s after the BYE), stop it by PID.
  const until = Date.now() + 5000;
  await sleep(1200);
  while (Date.now() < until && Number(uas.stats()['CurrentCall'] ?? 0) > 0) await sleep(200);
  await uas.stop();
  const sr = await uas.result();
  const c1 = p.cpu();
  const wallS = (Date.now() - t0) / 1000;
  return { uac: ur, uas: sr, cpu: cpuDelta(c1, c0), wallS, uacSipp: uac };
}

/**
 * Every call of the UAC succeeded (the caller's view, as SIPp counts failed calls). The UAS's own
 * failures are reported beside it: some are calls SIPp made up for stray retransmissions of an
 * earlier failed run, some a lost ACK overtaken by the BYE 100 ms later on a busy machine.
 */
function okRun(r: CallRun, calls: number): boolean {
  return r.uac.failed === 0 && r.uac.successful === calls;
}

function calls(r: CallRun): number {
  return r.uac.successful + r.uac.failed;
}

function describeFailure(r: CallRun, calls: number): string {
  return `uac ok ${r.uac.successful}/${calls} failed ${r.uac.failed}, uas ok ${r.uas.successful} failed ${r.uas.failed}, uac exit ${r.uac.code}` +
    (r.uac.errorsTail ? `\n    ${r.uac.errorsTail.split('\n').slice(-2).join('\n    ')}` : '');
}

async function warmup(p: ProxyUnderTest): Promise<void> {
  const r = await callRun(p, { calls: P.warmup.calls, rate: P.warmup.rate, pauseMs: HOLD_MS });
  // Not fatal (it only warms the JIT and the caches), but said: a busy machine shows here first.
  if (!okRun(r, P.warmup.calls)) log(`warm-up through ${p.label} had failures: ${describeFailure(r, P.warmup.calls)}`);
}

// ---- phase: CPU per call and response times ------------------------------------------

interface CpuFigures {
  calls: number;
  failed: number;
  /** calls the UAC completed that the UAS did not see through (lost ACK and the like) */
  uasShort: number;
  /** share of kernel time (stime) in the proxy's CPU over the phase */
  sysShare: number;
  /** marginal CPU per call over the whole phase (deferred timer work included, idle subtracted), microseconds */
  perCallTicksUs: number;
  perCallSchedUs: number;
  /** in the run windows only, microseconds, per round */
  rounds: Array<{ ticksUs: number; schedUs: number; retrans: number }>;
  /** idle CPU, milliseconds per second */
  idleMsPerS: number;
  trying: Latency;
  answer: Latency;
  bye: Latency;
  sippRtd1: Latency;
  sippRtd2: Latency;
}

type IdleRates = Map<string, Cpu>;

/**
 * CPU of the idle proxies, per second: warmed up, once every transaction of the warm-up has ended
 * (anysip keeps them 32 s), so neither the warm-up's timers nor the proxies' own start-up (JIT
 * compilation, first garbage collections) is mistaken for idle work.
 */
async function measureIdle(list: ProxyUnderTest[], seconds: number): Promise<IdleRates> {
  log(`cpu: idle baseline ${seconds}s (all proxies warmed up, no transaction left)`);
  const rates = await idleRates(list, seconds);
  return new Map(list.map((p, i) => [p.key, rates[i]!]));
}

async function cpuPhase(list: ProxyUnderTest[]): Promise<Map<string, CpuFigures>> {
  const c = P.cpu;
  // The warm-up's transactions linger up to 32 s (anysip: Timer L/M/J): let them end before the phase
  // starts, so their deferred work is not counted against the phase's calls.
  log(`cpu: ${c.tailS}s for the warm-up's transactions to end`);
  await sleep(c.tailS * 1000);
  const idleRate = await measureIdle(list, c.idleS);
  const start = new Map(list.map((p) => [p.key, p.cpu()]));
  const t0 = Date.now();
  const acc = new Map(list.map((p) => [p.key, {
    calls: 0, failed: 0, uasShort: 0, rounds: [] as CpuFigures['rounds'],
    trying: [] as number[], answer: [] as number[], bye: [] as number[], rtd1: [] as number[], rtd2: [] as number[],
  }]));
  for (let round = 1; round <= c.rounds; round++) {
    // Alternate the order too: A B C, C B A, A B C ...
    const order = round % 2 ? list : [...list].reverse();
    for (const p of order) {
      const r = await callRun(p, { calls: c.calls, rate: c.rate, pauseMs: HOLD_MS, shortMsg: true, rtt: true });
      const a = acc.get(p.key)!;
      a.calls += r.uac.successful;
      a.failed += r.uac.failed;
      a.uasShort += Math.max(0, calls(r) - r.uas.successful);
      a.rounds.push({
        ticksUs: (r.cpu.ticksS / Math.max(1, r.uac.successful)) * 1e6,
        schedUs: (r.cpu.schedS / Math.max(1, r.uac.successful)) * 1e6,
        retrans: r.uac.retransmissions + r.uas.retransmissions,
      });
      const lat = shortMsgLatencies(r.uacSipp.shortFile());
      a.trying.push(...lat.trying);
      a.answer.push(...lat.answer);
      a.bye.push(...lat.bye);
      const rtt = rttSamples(r.uacSipp.rttFile());
      a.rtd1.push(...(rtt.get(1) ?? []));
      a.rtd2.push(...(rtt.get(2) ?? []));
      const last = a.rounds[a.rounds.length - 1]!;
      log(`cpu: round ${round} ${p.label}: ${r.uac.successful}/${c.calls} calls, ${last.ticksUs.toFixed(1)} us/call (utime+stime), ${last.schedUs.toFixed(1)} us/call (schedstat)` +
        (okRun(r, c.calls) ? '' : `  FAILED: ${describeFailure(r, c.calls)}`));
    }
  }
  log(`cpu: ${c.tailS}s tail so deferred timer work (Timer L/M, tm wait timer) lands in the phase`);
  await sleep(c.tailS * 1000);
  const phaseS = (Date.now() - t0) / 1000;
  const out = new Map<string, CpuFigures>();
  for (const p of list) {
    const a = acc.get(p.key)!;
    const s = start.get(p.key)!;
    const e = p.cpu();
    const ir = idleRate.get(p.key)!;
    const calls = Math.max(1, a.calls);
    const us = (us: number[]) => percentiles(us);
    const dt = e.ticksS - s.ticksS;
    out.set(p.key, {
      calls: a.calls,
      failed: a.failed,
      uasShort: a.uasShort,
      sysShare: dt > 0 ? (e.sysS - s.sysS) / dt : NaN,
      perCallTicksUs: ((e.ticksS - s.ticksS - ir.ticksS * phaseS) / calls) * 1e6,
      perCallSchedUs: ((e.schedS - s.schedS - ir.schedS * phaseS) / calls) * 1e6,
      rounds: a.rounds,
      idleMsPerS: ir.schedS * 1000,
      trying: us(a.trying),
      answer: us(a.answer),
      bye: us(a.bye),
      sippRtd1: us(a.rtd1.map((ms) => ms * 1000)),
      sippRtd2: us(a.rtd2.map((ms) => ms * 1000)),
    });
  }
  return out;
}

// ---- phase: memory per held call ------------------------------------------------------

interface MemFigures {
  held: number;
  base: MemSample;
  /** right after all calls are set up (transactions of the last ~32 s still there) */
  setup: MemSample;
  /** the same calls still held, after every transaction timer ran out (>= 35 s later) */
  held35: MemSample;
  ok: boolean;
  note: string;
}

async function memPhase(p: ProxyUnderTest): Promise<MemFigures> {
  const m = P.mem;
  const base = await p.memory();
  log(`mem: ${p.label}: baseline rss ${mb(base.rss)} pss ${mb(base.pss)}${base.heapUsed ? ` heap ${mb(base.heapUsed)}` : ''}${base.shmUsed ? ` shm ${mb(base.shmUsed)}` : ''}`);
  let setup: MemSample | undefined;
  let held35: MemSample | undefined;
  let note = '';
  const rampS = m.calls / m.rate;
  const r = await callRun(p, { calls: m.calls, rate: m.rate, pauseMs: m.holdMs, recvTimeoutMs: 20000 }, async (uac) => {
    await sleep((rampS + 3) * 1000);
    const st = uac.stats();
    note = `at the first sample SIPp had ${st['CurrentCall'] ?? '?'} calls open, ${st['FailedCall(C)'] ?? '?'} failed`;
    setup = await p.memory();
    log(`mem: ${p.label}: ${m.calls} calls set up: rss ${mb(setup.rss)} pss ${mb(setup.pss)}${setup.heapUsed ? ` heap ${mb(setup.heapUsed)}` : ''}${setup.shmUsed ? ` shm ${mb(setup.shmUsed)}` : ''} (${note})`);
    await sleep(35000);
    const st2 = uac.stats();
    note += `; at the second ${st2['CurrentCall'] ?? '?'} open, ${st2['FailedCall(C)'] ?? '?'} failed`;
    held35 = await p.memory();
    log(`mem: ${p.label}: held 35 s more: rss ${mb(held35.rss)} pss ${mb(held35.pss)}${held35.heapUsed ? ` heap ${mb(held35.heapUsed)}` : ''}${held35.shmUsed ? ` shm ${mb(held35.shmUsed)}` : ''}`);
  });
  const ok = okRun(r, m.calls);
  if (!ok) log(`mem: ${p.label}: FAILED: ${describeFailure(r, m.calls)}`);
  return { held: m.calls, base, setup: setup!, held35: held35!, ok, note };
}

// ---- phase: highest call rate with zero failed calls ----------------------------------------

interface Probe {
  rate: number;
  ok: boolean;
  why: string;
  /** proxy CPU use during the probe, % of one core */
  cpuPct: number;
}

interface RateFigures {
  best: number;
  bestCpuPct: number;
  probes: Probe[];
}

async function probe(p: ProxyUnderTest, rate: number): Promise<Probe> {
  const d = P.rate.durationS;
  const calls = rate * d;
  const r = await callRun(p, { calls, rate, pauseMs: HOLD_MS, recvTimeoutMs: 5000, timeoutS: d * 3 + 20 });
  let why = '';
  if (!okRun(r, calls)) why = describeFailure(r, calls).split('\n')[0]!;
  else if (r.uac.elapsedS > d * 1.25 + 2) why = `took ${r.uac.elapsedS.toFixed(1)} s for ${d} s of calls (rate not sustained)`;
  const cpuPct = (r.cpu.schedS / Math.max(0.001, r.wallS)) * 100;
  const res = { rate, ok: why === '', why, cpuPct };
  log(`rate: ${p.label} @ ${rate}/s: ${res.ok ? 'ok' : `FAIL (${why})`}, proxy cpu ${cpuPct.toFixed(0)}% of a core`);
  return res;
}

async function ratePhase(list: ProxyUnderTest[]): Promise<Map<string, RateFigures>> {
  const R = P.rate;
  interface St { lo: number; hi: number; next: number; bisected: number; done: boolean; probes: Probe[]; dirty: boolean }
  const st = new Map<string, St>(list.map((p) => [p.key, { lo: 0, hi: 0, next: R.start, bisected: 0, done: false, probes: [], dirty: false }]));
  while ([...st.values()].some((s) => !s.done)) {
    for (const p of list) {
      const s = st.get(p.key)!;
      if (s.done) continue;
      if (s.dirty) {
        // a failed probe leaves retransmissions and transactions behind: start clean
        await p.stop();
        await p.start();
        await warmup(p);
        s.dirty = false;
      }
      const pr = await probe(p, s.next);
      s.probes.push(pr);
      if (pr.ok) s.lo = Math.max(s.lo, pr.rate);
      else {
        s.hi = s.hi ? Math.min(s.hi, pr.rate) : pr.rate;
        s.dirty = true;
      }
      if (s.hi === 0) {
        if (s.next >= R.max) s.done = true;
        else s.next = Math.min(R.max, s.next * 2);
      } else {
        if (s.hi !== pr.rate || !pr.ok) {
          // bisecting (or starting to)
        }
        if (s.bisected >= R.bisect) s.done = true;
        else {
          const mid = Math.round((s.lo + s.hi) / 2 / 50) * 50;
          if (mid <= s.lo || mid >= s.hi) s.done = true;
          else {
            s.next = mid;
            s.bisected++;
          }
        }
      }
      await sleep(2000);
    }
  }
  const out = new Map<string, RateFigures>();
  for (const p of list) {
    const s = st.get(p.key)!;
    const best = s.probes.filter((x) => x.ok).reduce((a, b) => (b.rate > a.rate ? b : a), { rate: 0, cpuPct: 0 } as Probe);
    out.set(p.key, { best: best.rate, bestCpuPct: best.cpuPct, probes: s.probes });
  }
  return out;
}

// ---- report ---------------------------------------------------------------------------

function mb(b: number): string {
  return `${(b / 1048576).toFixed(1)} MB`;
}

function f1(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : 'n/a';
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}` : 'n/a';
}

function kb(perCall: number): string {
  return Number.isFinite(perCall) ? `${(perCall / 1024).toFixed(2)} KB` : 'n/a';
}

interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  kernel: string;
  node: string;
  kamailio: string;
  sipp: string;
  rev: string;
  load: string;
}

function machine(): Machine {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    kernel: release(),
    node: process.version,
    kamailio: kamailioVersion(),
    sipp: sippVersion(),
    rev: gitRev(),
    load: loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

function render(
  mc: Machine,
  cmd: string,
  minutes: number,
  list: ProxyUnderTest[],
  cpu: Map<string, CpuFigures> | undefined,
  mem: Map<string, MemFigures> | undefined,
  rate: Map<string, RateFigures> | undefined,
  cluster: ClusterFigures | undefined,
  history: string,
): string {
  const A = 'anysip';
  const K = 'kam1';
  const kams = list.filter((p) => p.key !== A);
  const L: string[] = [];
  const lab = (k: string) => list.find((p) => p.key === k)?.label ?? k;
  L.push('# anysip bench results');
  L.push('');
  L.push('Generated by `' + cmd + '`' + (LABEL ? ` (this run labelled "${LABEL}")` : '') + ' (bench/run.ts); rerunning the command regenerates this file.');
  L.push('How it measures, and why: bench/README.md. Ratios are anysip / Kamailio: for CPU, time and memory lower is better for anysip, for call rate higher is better.');
  L.push('');
  L.push('## Machine');
  L.push('');
  L.push('| | |');
  L.push('|---|---|');
  L.push(`| date | ${mc.date} (bench took ${minutes.toFixed(1)} min) |`);
  L.push(`| CPU | ${mc.cpu}, nproc ${mc.nproc} |`);
  L.push(`| kernel | ${mc.kernel} |`);
  L.push(`| Node.js | ${mc.node} |`);
  L.push(`| Kamailio | ${mc.kamailio} |`);
  L.push(`| SIPp | ${mc.sipp} |`);
  L.push(`| anysip | git ${mc.rev} |`);
  L.push(`| load average | ${mc.load} at the start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end (anything else running on the machine skews every figure) |`);
  L.push('');
  L.push('Proxies under test (all on 127.0.0.1, UDP; SIPp UAC on :5091 -> proxy -> SIPp UAS on :5090):');
  L.push('');
  for (const p of list) L.push(`- **${p.label}** (:${p.port}): ${p.describe()}`);
  L.push('');
  if (cpu) {
    const a = cpu.get(A)!;
    const c = P.cpu;
    L.push('## CPU per call');
    L.push('');
    L.push(`${c.rounds} rounds x ${c.calls} calls at ${c.rate} calls/s per proxy, proxies alternated (A B C, C B A, ...). ` +
      'A call is INVITE / 100 / 180 / 200 / ACK / BYE / 200 (7 messages in, 7 out at the proxy, counting the 100 it makes). ' +
      `Figure = the proxy's CPU (all processes, all threads) from the start of the first round to ${c.tailS} s after the last, ` +
      'less its idle CPU over the same time (measured warmed up, once no transaction was left), divided by the calls: deferred work (transaction timers firing after the call) is included. ' +
      '"kernel share" is stime / (utime + stime) as the kernel splits it: by sampling at its tick, so a rough figure that moves a lot between runs (the total does not). ' +
      '"failed (UAC)" are SIPp failed calls; "UAS short" counts calls the UAC completed but the UAS did not see through (a lost ACK overtaken by the BYE on a busy machine).');
    L.push('');
    L.push('| proxy | CPU/call (utime+stime) | CPU/call (schedstat) | ratio anysip/this | kernel share | idle CPU | calls | failed (UAC) | UAS short | per round (utime+stime, us) |');
    L.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const p of list) {
      const x = cpu.get(p.key)!;
      L.push(`| ${p.label} | ${f1(x.perCallTicksUs)} us | ${f1(x.perCallSchedUs)} us | ${p.key === A ? '1.00' : `**${ratio(a.perCallTicksUs, x.perCallTicksUs)}** (schedstat ${ratio(a.perCallSchedUs, x.perCallSchedUs)})`} | ${(x.sysShare * 100).toFixed(0)}% | ${x.idleMsPerS.toFixed(2)} ms/s | ${x.calls} | ${x.failed} | ${x.uasShort} | ${x.rounds.map((r) => f1(r.ticksUs)).join(', ')} |`);
    }
    L.push('');
    L.push('## Response times');
    L.push('');
    L.push('From the same runs. Microsecond figures come from the UAC\'s `-trace_shortmsg` log (time stamps in us); ' +
      'SIPp\'s own `rtd` (from `-trace_rtt`) only has millisecond resolution and is shown last. ' +
      'INVITE->100 is the proxy alone (UAC -> proxy -> UAC); INVITE->200 crosses the proxy twice plus the UAS; BYE->200 likewise.');
    L.push('');
    L.push('| proxy | INVITE->100 p50 / p99 | INVITE->200 p50 / p99 | BYE->200 p50 / p99 | SIPp rtd INVITE->200 p50 / p99 (ms) |');
    L.push('|---|---|---|---|---|');
    const lat = (l: Latency) => `${l.p50} / ${l.p99} us`;
    for (const p of list) {
      const x = cpu.get(p.key)!;
      L.push(`| ${p.label} | ${lat(x.trying)} | ${lat(x.answer)} | ${lat(x.bye)} | ${x.sippRtd1.p50 / 1000} / ${x.sippRtd1.p99 / 1000} |`);
    }
    for (const k of kams) {
      const x = cpu.get(k.key)!;
      L.push(`| ratio anysip / ${k.label} | ${ratio(a.trying.p50, x.trying.p50)} / ${ratio(a.trying.p99, x.trying.p99)} | ${ratio(a.answer.p50, x.answer.p50)} / ${ratio(a.answer.p99, x.answer.p99)} | ${ratio(a.bye.p50, x.bye.p50)} / ${ratio(a.bye.p99, x.bye.p99)} | |`);
    }
    L.push('');
  }
  if (rate) {
    const a = rate.get(A)!;
    const R = P.rate;
    L.push('## Highest call rate with zero failed calls');
    L.push('');
    L.push(`Each probe: ${R.durationS} s of calls at a fixed rate (SIPp -r), no hold, a fresh UAS. It passes when SIPp counts no failed call at the UAC ` +
      '(a message awaited more than 5 s fails the call) and the load took at most 1.25x its nominal time. ' +
      `Rates double from ${R.start}/s up to ${R.max}/s until a probe fails, then ${R.bisect} bisection steps; proxies alternate probe by probe; ` +
      'a proxy that failed a probe is restarted and warmed up before its next one. SIPp (UAC and UAS) runs on the same cores as the proxy, ' +
      'so near the top the machine, not only the proxy, may be the limit: the proxy\'s CPU use (% of one core) at the best rate says which.');
    L.push('');
    L.push('| proxy | highest rate, 0 failed | ratio anysip/this | proxy CPU at that rate | probes (calls/s) |');
    L.push('|---|---|---|---|---|');
    for (const p of list) {
      const x = rate.get(p.key);
      if (!x) continue;
      L.push(`| ${p.label} | ${x.best}/s | ${p.key === A ? '1.00' : `**${ratio(a.best, x.best)}**`} | ${x.bestCpuPct.toFixed(0)}% | ${x.probes.map((q) => `${q.rate}${q.ok ? ' ok' : ' FAIL'}`).join(', ')} |`);
    }
    L.push('');
    const fails = list.flatMap((p) => (rate.get(p.key)?.probes ?? []).filter((q) => !q.ok).map((q) => `- ${p.label} @ ${q.rate}/s: ${q.why}`));
    if (fails.length) {
      L.push('Failed probes:');
      L.push('');
      L.push(...fails);
      L.push('');
    }
  }
  if (mem) {
    const m = P.mem;
    L.push('## Memory per held call');
    L.push('');
    L.push(`${m.calls} calls set up at ${m.rate}/s and held (the UAC pauses ${m.holdMs / 1000} s between ACK and BYE). ` +
      'Per call = (sample - baseline) / calls. Baseline: the warmed-up, idle proxy. ' +
      '"set up" = 3 s after the last call was answered: the INVITE transactions of the last ~32 s are still in memory ' +
      '(anysip keeps them in RFC 6026 Accepted state for Timer L = 64*T1 = 32 s; Kamailio keeps its INVITE transaction on its 5 s wait timer). ' +
      '"held" = 35 s later, every transaction timer run out: what a proxy without dialog state keeps per established call. ' +
      'anysip: RSS of its one process, and the V8 heap in use after a forced full GC (`--expose-gc`, bench/lib/memprobe.cjs). ' +
      'Kamailio: RSS summed over its processes (shared pages counted in every process that touched them), PSS summed (shared pages split: no double count), ' +
      'and its shared memory in use (`kamcmd core.shmmem` real_used), which is where tm keeps transactions.');
    L.push('');
    L.push('| proxy | sample | RSS/call | PSS/call | heap/call | shm/call | RSS total | ok |');
    L.push('|---|---|---|---|---|---|---|---|');
    for (const p of list) {
      const x = mem.get(p.key);
      if (!x) continue;
      for (const [name, s] of [['set up', x.setup], ['held', x.held35]] as const) {
        const d = (f: (s: MemSample) => number | undefined) => {
          const v = f(s);
          const b = f(x.base);
          return v === undefined || b === undefined ? '-' : kb((v - b) / x.held);
        };
        L.push(`| ${p.label} | ${name} | ${d((s) => s.rss)} | ${d((s) => s.pss)} | ${d((s) => s.heapUsed)} | ${d((s) => s.shmUsed)} | ${mb(s.rss)} (base ${mb(x.base.rss)}) | ${x.ok ? 'yes' : 'NO'} |`);
      }
    }
    const a = mem.get(A);
    for (const k of kams) {
      const x = mem.get(k.key);
      if (!a || !x) continue;
      for (const [name, sa, sk] of [['set up', a.setup, x.setup], ['held', a.held35, x.held35]] as const) {
        const per = (s: MemSample, b: MemSample, f: (s: MemSample) => number) => (f(s) - f(b)) / m.calls;
        L.push(`| ratio anysip / ${k.label} | ${name} | ${ratio(per(sa, a.base, (s) => s.rss), per(sk, x.base, (s) => s.rss))} | ${ratio(per(sa, a.base, (s) => s.pss), per(sk, x.base, (s) => s.pss))} | (heap vs shm) ${ratio(per(sa, a.base, (s) => s.heapUsed ?? NaN), per(sk, x.base, (s) => s.shmUsed ?? NaN))} | | | |`);
      }
    }
    L.push('');
    for (const p of list) {
      const x = mem.get(p.key);
      if (x) L.push(`- ${p.label}: ${x.note}`);
    }
    L.push('');
  }
  if (cluster) L.push(...renderCluster(cluster));
  L.push('## Target');
  L.push('');
  if (cpu) {
    const a = cpu.get(A)!.perCallTicksUs;
    const k = cpu.get(K)?.perCallTicksUs ?? NaN;
    L.push(`- CPU per call <= Kamailio (${lab(K)}): ratio ${ratio(a, k)}: ${a <= k ? '**met**' : '**not met**'}`);
  }
  if (mem?.get(A)) {
    const x = mem.get(A)!;
    L.push(`- <= 4 KB per established call: ${memoryVerdict(x)}`);
  }
  L.push('');
  L.push('What stands in the way of the targets, and what was optimised: bench/README.md (Optimisations, Where the gap is).');
  L.push('');
  L.push('## History');
  L.push('');
  L.push('Every full run appends a line to bench/history.jsonl; optimisation work is recorded there as before/after runs (label, git revision).');
  L.push('');
  L.push(history);
  L.push('');
  return L.join('\n');
}

interface HistoryLine {
  date: string;
  rev: string;
  label: string;
  cpuUs?: Record<string, number>;
  rate?: Record<string, number>;
  memRssKb?: Record<string, number>;
  heapKb?: number;
  p50Us?: Record<string, number>;
  p99Us?: Record<string, number>;
  /** cluster phase: CPU per call, both nodes, by variant (local, forwarded) */
  clusterUs?: Record<string, number>;
}

function historyTable(lines: HistoryLine[]): string {
  if (!lines.length) return '(none yet)';
  const T: string[] = [];
  T.push('| date | rev | label | CPU/call anysip / kam1 (ratio) | max rate anysip / kam1 | INVITE->200 p50 anysip / kam1 | set-up RSS/call anysip / kam1 | heap/call | cluster CPU/call forwarded / local (ratio) |');
  T.push('|---|---|---|---|---|---|---|---|---|');
  for (const h of lines.slice(-20)) {
    const c = h.cpuUs;
    T.push(`| ${h.date.slice(0, 16)} | ${h.rev} | ${h.label || '-'} | ${c ? `${f1(c.anysip!)} / ${f1(c.kam1!)} us (${ratio(c.anysip!, c.kam1!)})` : '-'} | ${h.rate ? `${h.rate.anysip} / ${h.rate.kam1}` : '-'} | ${h.p50Us ? `${h.p50Us.anysip} / ${h.p50Us.kam1} us` : '-'} | ${h.memRssKb ? `${h.memRssKb.anysip?.toFixed(2)} / ${h.memRssKb.kam1?.toFixed(2)} KB` : '-'} | ${h.heapKb !== undefined ? `${h.heapKb.toFixed(2)} KB` : '-'} | ${h.clusterUs ? `${f1(h.clusterUs.forwarded!)} / ${f1(h.clusterUs.local!)} us (${ratio(h.clusterUs.forwarded!, h.clusterUs.local!)})` : '-'} |`);
  }
  return T.join('\n');
}

// ---- main -----------------------------------------------------------------------------

async function main(): Promise<void> {
  const began = Date.now();
  if (process.platform !== 'linux') fail('the bench reads /proc: Linux only');
  if (!which('sipp')) fail('SIPp is not installed (Debian package sip-tester; `node scripts/ensure-system-tools.mjs` as root)');
  ensureKamailio();
  stopPackageService();
  for (const [name, port] of Object.entries(PORT)) {
    if (name === 'kam8' && !WITH_KAM8) continue;
    if (!(await udpPortFree(port))) fail(`UDP 127.0.0.1:${port} (${name}) is in use: the bench needs it`);
  }
  if (ONLY.has('cluster')) {
    for (const [addr, port] of [['127.0.0.1', CLUSTER_PORT.core], ['127.0.0.1', CLUSTER_PORT.edge], ['127.0.0.2', CLUSTER_PORT.edge]] as const) {
      if (!(await udpPortFree(port, addr))) fail(`UDP ${addr}:${port} (cluster phase) is in use: the bench needs it`);
    }
  }
  log(`run directory ${RUN_DIR} (SIPp logs, traces, proxy logs)`);
  log('building anysip (npm run build)');
  const b = spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' });
  if (b.status !== 0) fail('npm run build failed');

  const anysip = new AnysipProxy(REPO, RUN_DIR, PORT.anysip, ANYSIP_CFG);
  const kam1 = new KamailioProxy(KAM_CFG, RUN_DIR, PORT.kam1, 1, UAS_URI);
  const kam8 = new KamailioProxy(KAM_CFG, RUN_DIR, PORT.kam8, 8, UAS_URI);
  const list: ProxyUnderTest[] = [anysip, kam1, ...(WITH_KAM8 ? [kam8] : [])];
  const anysipCluster = new AnysipCluster(REPO, RUN_DIR);
  proxies.push(...list, ...anysipCluster.nodes);
  const single = ONLY.has('cpu') || ONLY.has('mem') || ONLY.has('rate');
  for (const p of single ? list : []) {
    await p.start();
    log(`started ${p.label} (pid ${p.pid}): ${p.describe()}`);
  }
  for (const p of single ? list : []) {
    log(`warm-up: ${P.warmup.calls} calls through ${p.label}`);
    await warmup(p);
  }
  const mc = machine();

  let cpu: Map<string, CpuFigures> | undefined;
  let mem: Map<string, MemFigures> | undefined;
  let rate: Map<string, RateFigures> | undefined;
  if (ONLY.has('cpu')) cpu = await cpuPhase(list);
  if (ONLY.has('mem')) {
    mem = new Map();
    // Kamailio first: anysip idles meanwhile, so its warm-up transactions (Timer L, 32 s) are gone before its baseline.
    for (const p of [kam1, anysip]) mem.set(p.key, await memPhase(p));
  }
  if (ONLY.has('rate')) rate = await ratePhase(list);
  for (const p of list) await p.stop();
  let cluster: ClusterFigures | undefined;
  if (ONLY.has('cluster')) {
    // Last, alone on the machine: the single-node proxies are stopped.
    await anysipCluster.start();
    log(`started ${anysipCluster.label} (pids ${anysipCluster.nodes.map((n) => n.pid).join(', ')})`);
    cluster = await clusterPhase(anysipCluster, P.cluster, callRun, log, () => runBusBench(REPO, P.cluster.bus));
    await anysipCluster.stop();
  }

  const h: HistoryLine = { date: mc.date, rev: mc.rev, label: LABEL };
  if (cpu) {
    h.cpuUs = Object.fromEntries([...cpu].map(([k, v]) => [k, Number(v.perCallTicksUs.toFixed(2))]));
    h.p50Us = Object.fromEntries([...cpu].map(([k, v]) => [k, v.answer.p50]));
    h.p99Us = Object.fromEntries([...cpu].map(([k, v]) => [k, v.answer.p99]));
  }
  if (rate) h.rate = Object.fromEntries([...rate].map(([k, v]) => [k, v.best]));
  if (cluster) h.clusterUs = Object.fromEntries(Object.entries(cluster.variants).map(([k, v]) => [k, Number(v.perCallUs.toFixed(2))]));
  if (mem) {
    h.memRssKb = Object.fromEntries([...mem].map(([k, v]) => [k, Number(((v.setup.rss - v.base.rss) / v.held / 1024).toFixed(3))]));
    const a = mem.get('anysip');
    if (a?.setup.heapUsed !== undefined && a.base.heapUsed !== undefined) h.heapKb = Number(((a.setup.heapUsed - a.base.heapUsed) / a.held / 1024).toFixed(3));
  }
  const past: HistoryLine[] = existsSync(HISTORY)
    ? readFileSync(HISTORY, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as HistoryLine)
    : [];
  if (FULL) {
    appendFileSync(HISTORY, `${JSON.stringify(h)}\n`);
    past.push(h);
  }
  // The command as one would type it again (the label, a note for the history, is shown apart).
  const shown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--label') i++;
    else shown.push(argv[i]!);
  }
  const cmd = `npm run bench${shown.length ? ` -- ${shown.join(' ')}` : ''}`;
  const text = render(mc, cmd, (Date.now() - began) / 60000, list, cpu, mem, rate, cluster, historyTable(past));
  writeFileSync(OUT, text);
  writeFileSync(join(RUN_DIR, 'summary.json'), JSON.stringify({ machine: mc, cpu: cpu && Object.fromEntries(cpu), mem: mem && Object.fromEntries(mem), rate: rate && Object.fromEntries(rate), cluster }, null, 2));
  log(`wrote ${OUT}`);
}

/**
 * The memory target, judged only on figures that measure it: RSS per call once set up (its
 * transactions still live) and once held, and the V8 heap per call. A figure below the idle
 * baseline measures noise (the process gave memory back), not a cost, so it can never meet a target.
 */
function memoryVerdict(x: MemFigures): string {
  const rssSetup = (x.setup.rss - x.base.rss) / x.held;
  const rssHeld = (x.held35.rss - x.base.rss) / x.held;
  const heapSetup = ((x.setup.heapUsed ?? 0) - (x.base.heapUsed ?? 0)) / x.held;
  const figures = `RSS ${kb(rssSetup)} per call set up, ${kb(rssHeld)} per call held; heap ${kb(heapSetup)} per call while its transactions live`;
  if ([rssSetup, rssHeld, heapSetup].some((v) => !(v >= 0))) return `${figures}: **not measured** (a figure below the idle baseline is noise, not a cost)`;
  return `${figures}: ${Math.max(rssSetup, rssHeld, heapSetup) <= 4096 ? '**met**' : '**not met**'}`;
}

main().catch((err: unknown) => {
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
});

