// The cluster phase of `npm run bench`: what it costs when replies land on the wrong node.
//
// Two anysip nodes form one cluster on loopback (bench/cluster/node1.yaml, node2.yaml). The
// caller sends every request to node 1's unicast socket, so every request is node 1's; node 1
// relays the call to the callee from its anycast socket. Two variants, on the same two processes,
// alternated:
//   local      the callee answers node 1: nothing is forwarded;
//   forwarded  the callee sends everything to node 2's anycast socket instead (SIPp -rsa), as
//              per-packet ECMP spraying at its worst would: every reply carries node 1's branch,
//              so node 2 forwards each one over the bus to node 1.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cpuDelta, cpuSum, idleRates, sleep, type Cpu } from './proc.js';
import { AnysipProxy } from './proxies.js';
import { percentiles, shortMsgLatencies, type CallRunner, type Latency } from './sipp.js';

export const CLUSTER_PORT = { core: 5084, edge: 5085, admin: 5086, bus: 5087 } as const;
const NODE_ADDR = ['127.0.0.1', '127.0.0.2'] as const;

/** Where the callee sends in the "forwarded" variant: node 2's anycast socket. */
const NODE2_EDGE = `${NODE_ADDR[1]}:${CLUSTER_PORT.edge}`;

export type Variant = 'local' | 'forwarded';

export interface ClusterParams {
  warmupCalls: number;
  rounds: number;
  calls: number;
  rate: number;
  /** ACK -> BYE gap, ms */
  pauseMs: number;
  idleS: number;
  /** after each run, so its transactions' timers fire inside its window */
  tailS: number;
  bus: { pings: number; frames: number };
}

export interface VariantFigures {
  calls: number;
  failed: number;
  uasShort: number;
  /** both nodes, idle subtracted, deferred timer work included; microseconds (utime+stime) */
  perCallUs: number;
  perCallSchedUs: number;
  node1Us: number;
  node2Us: number;
  /** per run, both nodes, microseconds */
  rounds: number[];
  /** SIP messages node 1 took over the bus, per call, by kind */
  forwardedPerCall: Record<string, number>;
  answer: Latency;
  bye: Latency;
  /** node 2 reception -> node 1 re-injection, from node 1's histogram (bucket-interpolated), microseconds */
  forwardLatency?: { p50: number; p99: number; n: number };
}

export interface BusFigures {
  rtt_ms: { p50: number; p99: number; max: number; samples: number };
  throughput: { echoes_per_s: number; frames_per_s: number };
  payload_bytes: number;
}

export interface ClusterFigures {
  params: ClusterParams;
  idleMsPerS: [number, number];
  variants: Record<Variant, VariantFigures>;
  bus?: BusFigures;
  busError?: string;
}

/** The two nodes, driven as one proxy: SIPp's caller talks to node 1's unicast socket. */
export class AnysipCluster {
  readonly key = 'cluster';
  readonly label = 'anysip, 2-node cluster';
  readonly port = CLUSTER_PORT.core;
  readonly nodes: [AnysipProxy, AnysipProxy];

  constructor(repo: string, dir: string) {
    const node = (i: 1 | 2) =>
      new AnysipProxy(repo, dir, i === 1 ? CLUSTER_PORT.core : CLUSTER_PORT.edge, join(repo, `bench/cluster/node${i}.yaml`), `node${i}`, `anysip node ${i}`);
    this.nodes = [node(1), node(2)];
  }

  async start(): Promise<void> {
    for (const n of this.nodes) await n.start();
    // Both nodes up in both views, or node 2 would drop node 1's replies as `owner_down`.
    await waitForAsync('both cluster nodes to see each other up', 15000, async () => {
      const views = await Promise.all(NODE_ADDR.map(async (a) => {
        const s = (await (await fetch(`http://${a}:${CLUSTER_PORT.admin}/status`)).json()) as { cluster?: { up?: number[] } };
        return s.cluster?.up ?? [];
      }));
      return views.every((v) => v.includes(1) && v.includes(2));
    });
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.stop();
  }

  cpu(): Cpu {
    return cpuSum(this.nodes[0].cpu(), this.nodes[1].cpu());
  }

  /** Node 1's counters: the owner, which takes every forwarded message. */
  ownerMetrics(): Promise<Metrics> {
    return scrape(`http://${NODE_ADDR[0]}:${CLUSTER_PORT.admin}/metrics`);
  }
}

async function waitForAsync(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (await ok()) return;
    } catch {
      // admin not listening yet
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---- Prometheus text, as much as the phase reads ------------------------------------------

/** series (`name{labels}` exactly as exposed) -> value */
type Metrics = Map<string, number>;

async function scrape(url: string): Promise<Metrics> {
  const text = await (await fetch(url)).text();
  const out: Metrics = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Increase of every series starting with `prefix` between two scrapes, keyed by its labels. */
function deltas(a: Metrics, b: Metrics, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of b) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v - (a.get(k) ?? 0));
  return out;
}

/** Quantile of a histogram's increase, interpolated linearly inside its bucket; seconds. */
export function histogramQuantile(a: Metrics, b: Metrics, name: string, q: number): number {
  const buckets = [...deltas(a, b, `${name}_bucket{le="`)]
    .map(([le, n]) => ({ le: le.startsWith('+Inf') ? Infinity : Number(le.slice(0, le.indexOf('"'))), n }))
    .sort((x, y) => x.le - y.le);
  const total = buckets[buckets.length - 1]?.n ?? 0;
  if (!total) return NaN;
  const want = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const { le, n } of buckets) {
    if (n >= want) {
      if (!Number.isFinite(le)) return prevLe; // beyond the last finite bound: say the bound
      return prevLe + ((want - prevN) / Math.max(1, n - prevN)) * (le - prevLe);
    }
    prevLe = le;
    prevN = n;
  }
  return NaN;
}

// ---- the phase ------------------------------------------------------------------------------

const FORWARD_LATENCY = 'anysip_anycast_forward_latency_seconds';

export async function clusterPhase(
  cluster: AnysipCluster,
  P: ClusterParams,
  callRun: CallRunner,
  log: (s: string) => void,
  busBench: () => Promise<BusFigures>,
): Promise<ClusterFigures> {
  const [n1, n2] = cluster.nodes;
  for (const v of ['local', 'forwarded'] as const) {
    log(`cluster: warm-up, ${P.warmupCalls / 2} calls ${v}`);
    await callRun(cluster, { calls: P.warmupCalls / 2, rate: P.rate, pauseMs: P.pauseMs, uasSendTo: v === 'forwarded' ? NODE2_EDGE : undefined });
  }
  log(`cluster: ${P.tailS}s for the warm-up's transactions to end`);
  await sleep(P.tailS * 1000);
  // Idle measured now, with no transaction left, rather than right after start: the nodes' own
  // start-up (joining the cluster, compiling) would be counted as idle and subtracted from the runs.
  log(`cluster: idle baseline ${P.idleS}s (both nodes, warmed up, no transaction left)`);
  const idle = await idleRates(cluster.nodes, P.idleS);

  const acc = Object.fromEntries((['local', 'forwarded'] as const).map((v) => [v, {
    calls: 0, failed: 0, uasShort: 0, rounds: [] as number[],
    ticks: [0, 0], sched: [0, 0], forwarded: new Map<string, number>(),
    answer: [] as number[], bye: [] as number[], lat50: [] as number[], lat99: [] as number[], latN: 0,
  }])) as Record<Variant, {
    calls: number; failed: number; uasShort: number; rounds: number[]; ticks: number[]; sched: number[];
    forwarded: Map<string, number>; answer: number[]; bye: number[]; lat50: number[]; lat99: number[]; latN: number;
  }>;

  for (let round = 1; round <= P.rounds; round++) {
    const order: Variant[] = round % 2 ? ['local', 'forwarded'] : ['forwarded', 'local'];
    for (const v of order) {
      const m0 = await cluster.ownerMetrics();
      const c0 = [n1.cpu(), n2.cpu()];
      const t0 = Date.now();
      const r = await callRun(cluster, {
        calls: P.calls, rate: P.rate, pauseMs: P.pauseMs, shortMsg: true, uasSendTo: v === 'forwarded' ? NODE2_EDGE : undefined,
      });
      // Every transaction of the run (Timer L/M/J: 32 s) ends inside its own window.
      await sleep(P.tailS * 1000);
      const c1 = [n1.cpu(), n2.cpu()];
      const windowS = (Date.now() - t0) / 1000;
      const m1 = await cluster.ownerMetrics();
      const a = acc[v];
      const ok = r.uac.successful;
      a.calls += ok;
      a.failed += r.uac.failed;
      a.uasShort += Math.max(0, r.uac.successful + r.uac.failed - r.uas.successful);
      let runTicks = 0;
      for (const i of [0, 1] as const) {
        const d = cpuDelta(c1[i]!, c0[i]!);
        const ticks = d.ticksS - idle[i]!.ticksS * windowS;
        a.ticks[i]! += ticks;
        a.sched[i]! += d.schedS - idle[i]!.schedS * windowS;
        runTicks += ticks;
      }
      a.rounds.push((runTicks / Math.max(1, ok)) * 1e6);
      for (const [kind, n] of deltas(m0, m1, 'anysip_anycast_forwarded_total{kind="')) {
        const k = kind.slice(0, kind.indexOf('"'));
        a.forwarded.set(k, (a.forwarded.get(k) ?? 0) + n);
      }
      const latN = [...deltas(m0, m1, `${FORWARD_LATENCY}_count`).values()][0] ?? 0;
      if (latN > 0) {
        a.lat50.push(histogramQuantile(m0, m1, FORWARD_LATENCY, 0.5) * 1e6);
        a.lat99.push(histogramQuantile(m0, m1, FORWARD_LATENCY, 0.99) * 1e6);
        a.latN += latN;
      }
      const lat = shortMsgLatencies(r.uacSipp.shortFile());
      a.answer.push(...lat.answer);
      a.bye.push(...lat.bye);
      const fwd = [...a.forwarded.values()].reduce((x, y) => x + y, 0);
      log(`cluster: round ${round} ${v}: ${ok}/${P.calls} calls, ${a.rounds[a.rounds.length - 1]!.toFixed(1)} us/call (both nodes), ` +
        `${(fwd / Math.max(1, a.calls)).toFixed(2)} forwarded/call so far` +
        (r.uac.failed || ok !== P.calls ? `  FAILED: ${r.uac.failed} failed, uac exit ${r.uac.code}` : ''));
    }
  }

  const variants = {} as Record<Variant, VariantFigures>;
  for (const v of ['local', 'forwarded'] as const) {
    const a = acc[v];
    const calls = Math.max(1, a.calls);
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    variants[v] = {
      calls: a.calls,
      failed: a.failed,
      uasShort: a.uasShort,
      perCallUs: ((a.ticks[0]! + a.ticks[1]!) / calls) * 1e6,
      perCallSchedUs: ((a.sched[0]! + a.sched[1]!) / calls) * 1e6,
      node1Us: (a.ticks[0]! / calls) * 1e6,
      node2Us: (a.ticks[1]! / calls) * 1e6,
      rounds: a.rounds,
      forwardedPerCall: Object.fromEntries([...a.forwarded].map(([k, n]) => [k, n / calls])),
      answer: percentiles(a.answer),
      bye: percentiles(a.bye),
      // Per-run quantiles averaged over the runs (each run has thousands of samples).
      forwardLatency: a.latN ? { p50: mean(a.lat50), p99: mean(a.lat99), n: a.latN } : undefined,
    };
  }

  let bus: BusFigures | undefined;
  let busError: string | undefined;
  log(`cluster: bus round trips (bench/bus/run.ts, ${P.bus.pings} pings, ${P.bus.frames} frames)`);
  try {
    bus = await busBench();
  } catch (err) {
    busError = err instanceof Error ? err.message : String(err);
    log(`cluster: bus benchmark failed: ${busError}`);
  }
  return { params: P, idleMsPerS: [idle[0]!.schedS * 1000, idle[1]!.schedS * 1000], variants, bus, busError };
}

/** bench/bus/run.ts in its own process (two bus endpoints, two processes), its JSON read back. */
export function runBusBench(repo: string, P: ClusterParams['bus']): Promise<BusFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'bench/bus/run.ts'), '--pings', String(P.pings), '--frames', String(P.frames)], {
      cwd: repo, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const i = out.indexOf('{');
      if (code !== 0 || i < 0) return reject(new Error(`bench/bus/run.ts exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(out.slice(i)) as BusFigures);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

// ---- report ---------------------------------------------------------------------------------

export function renderCluster(f: ClusterFigures): string[] {
  const P = f.params;
  const L: string[] = [];
  const loc = f.variants.local;
  const fwd = f.variants.forwarded;
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : 'n/a');
  const perCall = (x: VariantFigures) => {
    const e = Object.entries(x.forwardedPerCall).filter(([, n]) => n > 0);
    return e.length ? e.map(([k, n]) => `${n.toFixed(2)} ${k}`).join(', ') : '0';
  };
  L.push('## Cluster: every reply on the wrong node');
  L.push('');
  L.push('Two anysip nodes in one cluster on loopback (`bench/cluster/node1.yaml`, `node2.yaml`: bus on 127.0.0.1/127.0.0.2:5087, HMAC-SHA256 per frame). ' +
    'The caller sends every request to node 1\'s unicast socket (127.0.0.1:5084), so every request is node 1\'s; node 1 relays the call to the callee from its anycast socket (127.0.0.1:5085). ' +
    '**local**: the callee answers node 1, nothing is forwarded. **forwarded**: the callee sends everything to node 2\'s anycast socket instead (127.0.0.2:5085, SIPp `-rsa`), ' +
    'which is what per-packet ECMP does at its worst: each of the callee\'s replies (180, 200, and the BYE\'s 200) carries node 1\'s branch, so node 2 forwards it over the bus and node 1 re-injects it. ' +
    `Same two processes for both variants; ${P.rounds} round(s) x ${P.calls} calls at ${P.rate} calls/s each, variants alternated (L F, F L, ...). ` +
    `CPU = both nodes' utime+stime from the start of a run to ${P.tailS} s after it (its transaction timers included), less their idle CPU (heartbeats; measured after the warm-up, once no transaction was left), per call.`);
  L.push('');
  L.push('| variant | CPU/call, both nodes | ratio to local | node 1 | node 2 | schedstat, both | taken over the bus per call | calls | failed (UAC) | UAS short | INVITE->200 p50 / p99 | BYE->200 p50 / p99 | per round (us) |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, x] of [['local', loc], ['forwarded', fwd]] as const) {
    L.push(`| ${name} | ${f1(x.perCallUs)} us | ${name === 'local' ? '1.00' : `**${ratio(x.perCallUs, loc.perCallUs)}**`} | ${f1(x.node1Us)} us | ${f1(x.node2Us)} us | ${f1(x.perCallSchedUs)} us | ${perCall(x)} | ${x.calls} | ${x.failed} | ${x.uasShort} | ${x.answer.p50} / ${x.answer.p99} us | ${x.bye.p50} / ${x.bye.p99} us | ${x.rounds.map(f1).join(', ')} |`);
  }
  L.push('');
  const extra = fwd.perCallUs - loc.perCallUs;
  const n = Object.values(fwd.forwardedPerCall).reduce((a, b) => a + b, 0);
  L.push(`Forwarding added ${f1(extra)} us of CPU per call (both nodes) for ${n.toFixed(2)} forwarded messages: ${n > 0 ? f1(extra / n) : 'n/a'} us per forwarded message. ` +
    `Idle CPU: node 1 ${f.idleMsPerS[0].toFixed(2)} ms/s, node 2 ${f.idleMsPerS[1].toFixed(2)} ms/s. ` +
    'A node with nothing to do (node 2, local) can come out a little below zero: its idle rate, measured over 15 s, is subtracted over each run\'s ~47 s, ' +
    'and an error of a few ms/s in it is tens of us per call there. The difference between the variants does not depend on it.');
  L.push('');
  L.push('Bus forwarding latency:');
  L.push('');
  L.push('| what | p50 | p99 | samples |');
  L.push('|---|---|---|---|');
  if (fwd.forwardLatency) {
    L.push(`| a forwarded SIP reply: node 2 receives it -> node 1 re-injects it (node 1's \`${FORWARD_LATENCY}\` histogram over the forwarded runs, interpolated inside its buckets), under the load above | ${f1(fwd.forwardLatency.p50)} us | ${f1(fwd.forwardLatency.p99)} us | ${fwd.forwardLatency.n} |`);
  }
  if (f.bus) {
    L.push(`| bus round trip alone: ${f.bus.payload_bytes}-byte frame node 1 -> node 2 -> node 1, one at a time, two processes, no SIP (\`bench/bus/run.ts\`) | ${(f.bus.rtt_ms.p50 * 1000).toFixed(0)} us | ${(f.bus.rtt_ms.p99 * 1000).toFixed(0)} us | ${f.bus.rtt_ms.samples} |`);
  }
  L.push('');
  if (f.bus) L.push(`Bus throughput (same tool, pipelined echoes): ${f.bus.throughput.frames_per_s} frames/s over one link, both directions counted.`);
  if (f.busError) L.push(`Bus round-trip benchmark failed: ${f.busError}`);
  L.push('');
  return L;
}
