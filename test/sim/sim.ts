// The deterministic simulator: N real anysip nodes (Node: ingress, anycast
// gate, tm, proxy, registrar) on an in-memory network and bus, driven by a
// virtual clock, with simulated phones placing calls and a schedule of faults.
// Everything random comes from one seeded PRNG, so a seed replays exactly.
//
// Time moves in steps of at most STEP_MS: each step advances every node's
// timer wheel and the phones' wheel to the step's end, then runs the network
// and bus events due by then, one at a time, letting the promise jobs of each
// (the proxy routes asynchronously) finish before the next.

import { createLogger, silentLogger } from '../../src/core/log.js';
import type { Clock } from '../../src/core/clock.js';
import type { BusMessage, NodeState } from '../../src/cluster/types.js';
import { parseConfig } from '../../src/config/index.js';
import { Node, type NodeTransport } from '../../src/node/node.js';
import type { SipMessage } from '../../src/sip/message.js';
import { serverKey } from '../../src/tm/matching.js';
import { TimerWheel } from '../../src/tm/timer-wheel.js';
import type { Destination, Envelope, SocketSpec } from '../../src/transport/types.js';
import { newStats, type TransportStats } from '../../src/transport/context.js';
import type { AnycastMode, AnycastSnapshot } from '../../src/anycast/index.js';
import { MSG_ANSWER, MSG_FORWARD, MSG_QUERY, MSG_RELAY } from '../../src/anycast/wire.js';
import { Call, makePlan } from './call.js';
import { SimBus, SimMembership } from './cluster.js';
import { EventQueue } from './events.js';
import { ANYCAST, SIP_PORT, SimNetwork, type Spray } from './network.js';
import { Phone, type PhoneWorld } from './phone.js';
import { Prng } from './prng.js';

export interface SimOptions {
  seed: number;
  calls: number;
  nodes: number;
  /** Packet loss probability on the network (not the bus). */
  loss: number;
  mode: AnycastMode;
  spray: Spray;
  /** Fault episodes (kill + restart, or drain + undrain of one node), spread over the run. */
  faults: number;
  /** New calls per second. */
  rate: number;
  dup: number;
  reorder: number;
  t1: number;
  t2: number;
  /** Write node logs (debug) to stderr. */
  verbose?: boolean;
  /** Print the gate's decisions for messages whose Call-ID contains this. */
  trace?: string;
  /** Run the nodes without bus and gate, as unrelated single proxies (shows what the gate prevents). */
  noGate?: boolean;
}

export const DEFAULTS: SimOptions = {
  seed: 1,
  calls: 1000,
  nodes: 3,
  loss: 0.05,
  mode: 'hash',
  spray: 'packet',
  faults: 0,
  rate: 50,
  dup: 0.01,
  reorder: 0.02,
  t1: 500,
  t2: 4000,
};

export interface SimResult {
  options: SimOptions;
  virtualMs: number;
  calls: number;
  outcomes: Record<string, number>;
  packets: number;
  lost: number;
  /** Bus messages by anycast type, over the whole run. */
  bus: { forward: number; query: number; answer: number; relay: number; bytes: number; lost: number };
  /** Taken over the bus, by kind, as classified by the receiving owner. */
  forwarded: Record<string, number>;
  secondChance: number;
  queries: Record<string, number>;
  drops: Record<string, number>;
  faults: string[];
  violations: string[];
}

const STEP_MS = 1;
const IDLE_STEP_MS = 10;
const SECRET = 'simulated-cluster-branch-secret';

interface Runtime {
  id: number;
  incarnation: number;
  alive: boolean;
  node: Node;
  membership: SimMembership;
  bus: SimBus;
  transport: SimNodeTransport;
  /** Latest time a membership update is queued for (per-node FIFO). */
  memLast: number;
}

/** The node's transport: its one anycast UDP socket, on the simulated network. */
class SimNodeTransport implements NodeTransport {
  onMessage: (data: Buffer, env: Envelope) => void = () => {};
  alive = true;
  private readonly spec: SocketSpec = { id: 'anycast-udp', transport: 'udp', address: ANYCAST, port: SIP_PORT, role: 'anycast' };
  private readonly counters: TransportStats = newStats();

  constructor(private readonly net: SimNetwork) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  sockets(): SocketSpec[] {
    return [this.spec];
  }
  stats(): TransportStats {
    return this.counters;
  }
  send(data: Buffer, dest: Destination): void {
    if (!this.alive) return;
    this.counters.udpOut++;
    this.net.send({ address: ANYCAST, port: SIP_PORT }, dest, data);
  }
  socketFor(): SocketSpec {
    return this.spec;
  }
}

export class Simulation implements PhoneWorld {
  readonly o: SimOptions;
  readonly prng: Prng;
  readonly clock: Clock;
  readonly wheel = new TimerWheel({ now: 0 });
  readonly t1: number;
  readonly t2: number;
  private nowMs = 0;
  private readonly events = new EventQueue();
  readonly net: SimNetwork;
  private readonly runtimes = new Map<number, Runtime>();
  /** Every node incarnation ever started (their tm state is checked at the end if alive). */
  private readonly states = new Map<number, NodeState>();
  private readonly linkLast = new Map<string, number>();
  /** Kill times per node. */
  private readonly kills = new Map<number, number[]>();
  private readonly calls: Call[] = [];
  private readonly phones: Phone[] = [];
  private finishedCalls = 0;
  readonly violations: string[] = [];
  private readonly faultLog: string[] = [];
  private readonly busCount = { forward: 0, query: 0, answer: 0, relay: 0, bytes: 0, lost: 0 };
  /** Anycast metrics of node incarnations that died, so totals survive restarts. */
  private readonly deadMetrics: AnycastSnapshot[] = [];
  private readonly deadDrops: Record<string, number>[] = [];
  /** UAS-side record of each request: originator's branch -> the proxy branch it came with. */
  private readonly seen = new Map<string, string>();
  private readonly outcomes: Record<string, number> = {};

  constructor(opts: Partial<SimOptions> = {}) {
    this.o = { ...DEFAULTS, ...opts };
    this.prng = new Prng(this.o.seed);
    this.clock = { now: () => this.nowMs };
    this.t1 = this.o.t1;
    this.t2 = this.o.t2;
    this.net = new SimNetwork(
      {
        prng: this.prng,
        now: () => this.nowMs,
        at: (t, fn) => this.at(t, fn),
        deliverToNode: (id, data, env) => this.deliverToNode(id, data, env),
      },
      { loss: this.o.loss, dup: this.o.dup, reorder: this.o.reorder, baseDelay: 2, jitter: 18, spray: this.o.spray },
    );
  }

  // ---- PhoneWorld ------------------------------------------------------------------

  at(time: number, fn: () => void): void {
    this.events.push(Math.max(time, this.nowMs), fn);
  }

  send(from: string, data: Buffer, dest: Destination): void {
    this.net.send({ address: from, port: 5060 }, dest, data);
  }

  violation(text: string): void {
    if (this.violations.length < 1000) this.violations.push(`t=${Math.round(this.nowMs)} ${text}`);
  }

  /** Invariant: a phone never gets the same request under two proxy branches (one client transaction per request). */
  sawRequest(phone: Phone, req: SipMessage): void {
    const vias = req.vias;
    if (vias.length < 2) return;
    const origin = vias[vias.length - 1]!.branch ?? '';
    const key = `${req.callId} ${req.cseq.seq} ${req.method} ${origin}`;
    const branch = vias[0]!.branch ?? '';
    const first = this.seen.get(key);
    if (first === undefined) {
      this.seen.set(key, branch);
      return;
    }
    if (first === branch) return;
    // Excused only when the node that forked it first has died since (its transaction died with it).
    const firstNode = this.branchNode(first);
    if (firstNode !== 0 && (this.kills.get(firstNode)?.length ?? 0) > 0) return;
    this.violation(`${phone.address} got ${req.method} ${req.callId} cseq ${req.cseq.seq} under two branches (${first} from node ${firstNode}, then ${branch} from node ${this.branchNode(branch)})`);
  }

  private branchNode(branch: string): number {
    for (const rt of this.runtimes.values()) {
      const d = rt.node.tm?.decodeBranch(branch);
      if (d) return d.nodeId;
    }
    return 0;
  }

  // ---- nodes -------------------------------------------------------------------------

  private async startNode(id: number, self: NodeState): Promise<Runtime> {
    const prev = this.runtimes.get(id);
    const incarnation = (prev?.incarnation ?? 0) + 1;
    const initial = new Map<number, NodeState>();
    for (const [n, s] of this.states) initial.set(n, s);
    initial.set(id, self);
    this.states.set(id, self);
    const membership = new SimMembership(id, initial);
    const bus = new SimBus(id, { busSend: (src, dst, msg) => this.busSend(src, dst, msg) });
    const transport = new SimNodeTransport(this.net);
    const config = parseConfig(nodeYaml(id, this.o), `sim-node-${id}.yaml`);
    const log = this.o.verbose ? createLogger({ name: `sim-${id}`, level: 'debug', nodeId: id, stream: process.stderr }) : silentLogger();
    const rt: Runtime = { id, incarnation, alive: true, node: undefined as unknown as Node, membership, bus, transport, memLast: 0 };
    rt.node = new Node(config, {
      log,
      clock: this.clock,
      transport,
      ...(this.o.noGate ? {} : { bus, membership }),
      realTimers: false,
      anycastEvents: {
        onForward: (dst, msg, env, second) => {
          if (env.hops !== 0) this.violation(`node ${id} forwarded a ${describe(msg)} that had already made ${env.hops} hop(s)`);
          this.trace(msg, `node ${id} -> node ${dst}${second ? ' (second chance)' : ''}`);
        },
        onLocal: (msg, env) => {
          this.trace(msg, `node ${id} local (hops ${env.hops})`);
          this.checkLocal(rt, msg);
        },
      },
    });
    // The node's wheel must start at the current virtual time.
    rt.node.wheel.advance(this.nowMs);
    this.runtimes.set(id, rt);
    await rt.node.start();
    return rt;
  }

  /**
   * Invariant: a request goes to the transaction layer of the node that holds its transaction (every
   * CANCEL and non-2xx ACK reaches the owner of its INVITE; a retransmission reaches its transaction).
   */
  private checkLocal(rt: Runtime, msg: SipMessage): void {
    if (!msg.isRequest) return;
    let keys: string[];
    try {
      const m = msg.method;
      keys = m === 'ACK' ? [serverKey(msg, 'INVITE')] : m === 'CANCEL' ? [serverKey(msg, 'CANCEL'), serverKey(msg, 'INVITE')] : [serverKey(msg, m)];
    } catch {
      return;
    }
    for (const k of keys) if (rt.node.tm.hasServerKey(k)) return;
    for (const other of this.runtimes.values()) {
      if (other === rt || !other.alive) continue;
      for (const k of keys) {
        if (other.node.tm.hasServerKey(k)) {
          this.violation(`${describe(msg)} reached node ${rt.id} but its transaction is on node ${other.id}`);
          return;
        }
      }
    }
  }

  private trace(msg: SipMessage, what: string): void {
    const t = this.o.trace;
    if (t === undefined) return;
    let id = '';
    try {
      id = msg.callId;
    } catch {
      return;
    }
    if (id.includes(t)) console.error(`t=${this.nowMs.toFixed(1)} ${describe(msg)} branch ${msg.topVia.branch}: ${what}`);
  }

  private deliverToNode(id: number, data: Buffer, env: Envelope): boolean {
    const rt = this.runtimes.get(id);
    if (rt === undefined || !rt.alive) return false;
    rt.transport.onMessage(data, env);
    return true;
  }

  private busSend(src: number, dst: number, msg: BusMessage): boolean {
    const s = this.runtimes.get(src);
    if (s === undefined || !s.alive) return false;
    if (dst === 0) {
      for (const m of s.membership.members()) if (m.id !== src && m.state !== 'down') this.link(src, m.id, msg);
      return true;
    }
    const st = s.membership.state(dst);
    if (st === undefined || st === 'down') return false;
    this.link(src, dst, msg);
    return true;
  }

  private link(src: number, dst: number, msg: BusMessage): void {
    const c = this.busCount;
    if (msg.type === MSG_FORWARD) c.forward++;
    else if (msg.type === MSG_QUERY) c.query++;
    else if (msg.type === MSG_ANSWER) c.answer++;
    else if (msg.type === MSG_RELAY) c.relay++;
    c.bytes += msg.payload.length;
    const inc = this.runtimes.get(dst)?.incarnation;
    const key = src + '>' + dst;
    const t = Math.max(this.nowMs + this.prng.range(0.1, 0.6), (this.linkLast.get(key) ?? 0) + 0.001);
    this.linkLast.set(key, t);
    this.at(t, () => {
      const r = this.runtimes.get(dst);
      if (r === undefined || !r.alive || r.incarnation !== inc) {
        c.lost++;
        return;
      }
      r.bus.deliver(msg);
    });
  }

  /** Every live node learns that `id` is now `to`, each after its own delay (itself at once). */
  private change(id: number, to: NodeState): void {
    this.states.set(id, to);
    for (const rt of this.runtimes.values()) {
      if (!rt.alive) continue;
      const delay = rt.id === id ? 0 : this.prng.range(1, 30);
      const t = Math.max(this.nowMs + delay, rt.memLast);
      rt.memLast = t;
      const inc = rt.incarnation;
      this.at(t, () => {
        if (rt.alive && this.runtimes.get(rt.id)?.incarnation === inc) rt.membership.apply(id, to);
      });
    }
  }

  /** The routers start (or stop) sending the anycast address to `id`, after routing converges. */
  private route(id: number, announce: boolean): void {
    this.at(this.nowMs + this.prng.range(50, 300), () => {
      const a = this.net.announced.filter((n) => n !== id);
      if (announce && this.runtimes.get(id)?.alive) a.push(id);
      this.net.announced = a.sort((x, y) => x - y);
    });
  }

  // ---- faults ----------------------------------------------------------------------------

  private scheduleFaults(span: number): void {
    const n = this.o.faults;
    if (n <= 0 || this.o.nodes < 2) return;
    const slot = (0.8 * span) / n;
    for (let i = 0; i < n; i++) {
      const t = 0.1 * span + i * slot + this.prng.range(0, slot * 0.3);
      const kill = this.prng.chance(0.5);
      const recover = this.prng.range(1500, Math.max(2000, slot * 0.5));
      this.at(t, () => (kill ? this.kill(recover) : this.drain(recover)));
    }
  }

  private pickUp(): Runtime | undefined {
    const up = [...this.runtimes.values()].filter((r) => r.alive && this.states.get(r.id) === 'up');
    if (up.length < 2) return undefined;
    return up[this.prng.int(up.length)];
  }

  private kill(restartAfter: number): void {
    const rt = this.pickUp();
    if (!rt) return;
    this.faultLog.push(`t=${Math.round(this.nowMs)} kill node ${rt.id}, restart in ${Math.round(restartAfter)} ms`);
    rt.alive = false;
    rt.transport.alive = false;
    this.retire(rt);
    const kills = this.kills.get(rt.id) ?? [];
    kills.push(this.nowMs);
    this.kills.set(rt.id, kills);
    this.route(rt.id, false);
    // Peers notice after their failure timeout.
    this.at(this.nowMs + this.prng.range(300, 900), () => this.change(rt.id, 'down'));
    this.at(this.nowMs + restartAfter, () => void this.restart(rt.id));
  }

  private async restart(id: number): Promise<void> {
    this.faultLog.push(`t=${Math.round(this.nowMs)} restart node ${id}`);
    this.change(id, 'joining');
    await this.startNode(id, 'joining');
    this.at(this.nowMs + this.prng.range(100, 300), () => {
      this.change(id, 'up');
      this.route(id, true);
    });
  }

  private drain(undrainAfter: number): void {
    const rt = this.pickUp();
    if (!rt) return;
    this.faultLog.push(`t=${Math.round(this.nowMs)} drain node ${rt.id}`);
    this.change(rt.id, 'draining');
    this.route(rt.id, false);
    const poll = (): void => {
      if (!rt.alive) return;
      const s = rt.node.tm.stats();
      if (s.serverTransactions + s.clientTransactions > 0 || (rt.node.anycast?.gate.pendingQueries ?? 0) > 0) {
        this.at(this.nowMs + 200, poll);
        return;
      }
      this.faultLog.push(`t=${Math.round(this.nowMs)} node ${rt.id} drained`);
      this.change(rt.id, 'drained');
      this.at(this.nowMs + undrainAfter, () => {
        this.faultLog.push(`t=${Math.round(this.nowMs)} undrain node ${rt.id}`);
        this.change(rt.id, 'up');
        this.route(rt.id, true);
      });
    };
    this.at(this.nowMs + 200, poll);
  }

  /** Keep the counters of a node incarnation that stops. */
  private retire(rt: Runtime): void {
    if (rt.node.anycast) this.deadMetrics.push(rt.node.anycast.metrics.snapshot());
    this.deadDrops.push(rt.node.metrics.counters().sip_drops_total);
  }

  // ---- calls -----------------------------------------------------------------------------

  private placeCall(i: number): void {
    const plan = makePlan(this.prng);
    const hi = i >> 16;
    const mid = (i >> 8) & 255;
    const lo = i & 255;
    const callerAddr = `10.${1 + 2 * hi}.${mid}.${lo}`;
    const calleeAddr = `10.${2 + 2 * hi}.${mid}.${lo}`;
    const caller = new Phone(this, callerAddr, plan.kind === 'register' ? `sip:u${i}@reg.sim` : `sip:caller${i}@${callerAddr}`);
    const callee = new Phone(this, calleeAddr, `sip:callee${i}@${calleeAddr}:5060`);
    this.net.attach(callerAddr, caller);
    this.net.attach(calleeAddr, callee);
    this.phones.push(caller, callee);
    const call = new Call(this, i, `sim-${this.o.seed}-${i}-${this.prng.token(6)}`, plan, caller, callee, (c) => this.finished(c));
    this.calls.push(call);
    call.start();
    const faults = this.o.faults > 0 ? 60_000 + 64 * this.t1 : 0;
    this.at(call.deadline(faults), () => {
      if (call.finished) return;
      this.violation(`call ${call.callId} (${plan.kind}) did not end within its timer bounds: ${call.giveUp()}\n    caller: ${caller.trace.join(' | ')}\n    callee: ${callee.trace.join(' | ')}`);
      this.finishedCalls++;
    });
  }

  private finished(call: Call): void {
    this.finishedCalls++;
    const faulted = this.faultedDuring(call.startedAt, call.doneAt);
    const outcome = `${call.plan.kind}:${call.callerFinal}${call.byeStatus ? '/bye' + call.byeStatus : ''}`;
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    if (faulted) return; // a killed owner takes its transactions with it: any RFC outcome is fine
    const problem = expected(call);
    if (problem) {
      this.violation(`call ${call.callId} (${call.plan.kind}) ended wrongly: ${problem}\n    caller: ${call.caller.trace.join(' | ')}\n    callee: ${call.callee.trace.join(' | ')}`);
    }
  }

  private faultedDuring(t0: number, t1: number): boolean {
    for (const times of this.kills.values()) for (const t of times) if (t >= t0 - 64 * this.t1 && t <= t1) return true;
    return false;
  }

  // ---- the loop ----------------------------------------------------------------------------

  async run(): Promise<SimResult> {
    const o = this.o;
    for (let id = 1; id <= o.nodes; id++) this.states.set(id, 'up');
    for (let id = 1; id <= o.nodes; id++) await this.startNode(id, 'up');
    this.net.announced = [...this.runtimes.keys()].sort((a, b) => a - b);
    const gap = 1000 / o.rate;
    const span = o.calls * gap;
    for (let i = 0; i < o.calls; i++) {
      const t = i * gap + this.prng.range(0, gap);
      this.at(t, () => this.placeCall(i));
    }
    this.scheduleFaults(span);

    let quietUntil = Infinity;
    for (;;) {
      const next = this.events.peekTime();
      const step = this.events.size > 0 ? STEP_MS : IDLE_STEP_MS;
      const target = Math.min(next, this.nowMs + step);
      this.nowMs = target;
      for (const rt of this.runtimes.values()) if (rt.alive) rt.node.wheel.advance(target);
      this.wheel.advance(target);
      await drain();
      while (this.events.peekTime() <= target) {
        this.events.pop()!.run();
        await drain();
      }
      if (quietUntil === Infinity && this.finishedCalls >= o.calls && this.nowMs >= span) {
        // Every call is over: let every transaction and timer run out, then look for leftovers.
        quietUntil = this.nowMs + 64 * this.t1 + 5000 + 2000;
      }
      if (this.nowMs >= quietUntil) break;
      if (this.nowMs > span + 3_600_000) {
        this.violation('simulation did not settle within an hour of virtual time');
        break;
      }
    }
    this.checkLeaks();
    return this.result();
  }

  /** Invariant: once everything is over, no transaction, timer or query is left anywhere. */
  private checkLeaks(): void {
    for (const rt of this.runtimes.values()) {
      if (!rt.alive) continue;
      const s = rt.node.tm.stats();
      const q = rt.node.anycast?.gate.pendingQueries ?? 0;
      if (s.serverTransactions || s.clientTransactions || s.timers || rt.node.wheel.size || q) {
        this.violation(
          `node ${rt.id} still holds ${s.serverTransactions} server / ${s.clientTransactions} client transactions, ${s.timers} tm timers, ${rt.node.wheel.size} wheel timers, ${q} queries after every call ended`,
        );
      }
    }
    let left = 0;
    const who: string[] = [];
    for (const p of this.phones) {
      const s = p.tm.stats();
      const n = s.serverTransactions + s.clientTransactions;
      left += n;
      if (n > 0 && who.length < 3) who.push(`${p.address} (${s.serverTransactions} server, ${s.clientTransactions} client): ${p.trace.join(' | ')}`);
    }
    if (left > 0 || this.wheel.size > 0) {
      this.violation(`phones still hold ${left} transactions / ${this.wheel.size} timers after every call ended\n    ${who.join('\n    ')}`);
    }
  }

  private result(): SimResult {
    const forwarded: Record<string, number> = {};
    const queries: Record<string, number> = {};
    const drops: Record<string, number> = {};
    let secondChance = 0;
    for (const rt of this.runtimes.values()) if (rt.alive) this.retire(rt);
    for (const m of this.deadMetrics) {
      for (const [k, v] of Object.entries(m.forwarded)) forwarded[k] = (forwarded[k] ?? 0) + v;
      for (const [k, v] of Object.entries(m.queries)) queries[k] = (queries[k] ?? 0) + v;
      secondChance += m.secondChance;
    }
    for (const d of this.deadDrops) for (const [k, v] of Object.entries(d)) drops[k] = (drops[k] ?? 0) + v;
    if ((drops['hop_limit'] ?? 0) > 0) this.violation(`${drops['hop_limit']} message(s) arrived over the bus with hops > 0`);
    return {
      options: this.o,
      virtualMs: Math.round(this.nowMs),
      calls: this.calls.length,
      outcomes: Object.fromEntries(Object.entries(this.outcomes).sort()),
      packets: this.net.stats.packets,
      lost: this.net.stats.lost,
      bus: { ...this.busCount },
      forwarded,
      secondChance,
      queries,
      drops: Object.fromEntries(Object.entries(drops).sort()),
      faults: this.faultLog,
      violations: this.violations,
    };
  }
}

/** Let every promise job queued so far (and those they queue) run. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function describe(msg: SipMessage): string {
  try {
    return msg.isRequest ? `${msg.method} ${msg.callId} cseq ${msg.cseq.seq}` : `${msg.status} ${msg.cseq.method} ${msg.callId}`;
  } catch {
    return msg.isRequest ? msg.method : String(msg.status);
  }
}

/** What a call must have ended with when no node died under it; undefined when it did. */
function expected(c: Call): string | undefined {
  const k = c.plan.kind;
  if (c.ackTimeout) return 'the callee never got the ACK for its 2xx';
  if (c.reinviteStatus !== 0 && ![200, 481, 487].includes(c.reinviteStatus)) return `re-INVITE got ${c.reinviteStatus}`;
  const byeOk = c.byeStatus === 200;
  switch (k) {
    case 'register':
      return c.callerFinal === 200 ? undefined : `REGISTER got ${c.callerFinal}`;
    case 'options':
      return c.callerFinal === 200 && c.calleeFinal === 200 ? undefined : `OPTIONS got ${c.callerFinal} (callee sent ${c.calleeFinal})`;
    case 'busy':
      return c.callerFinal === 486 && c.calleeFinal === 486 ? undefined : `INVITE got ${c.callerFinal} (callee sent ${c.calleeFinal})`;
    case 'answer':
      return c.callerFinal === 200 && c.calleeFinal === 200 && byeOk ? undefined : `INVITE got ${c.callerFinal} (callee sent ${c.calleeFinal}), BYE got ${c.byeStatus}`;
    case 'cancel':
      if (c.callerFinal === 487 && c.calleeFinal === 487) return undefined;
      if (c.callerFinal === 200 && c.calleeFinal === 200 && byeOk) return undefined;
      return `cancelled INVITE got ${c.callerFinal} (callee sent ${c.calleeFinal}), BYE got ${c.byeStatus}`;
  }
}

function nodeYaml(id: number, o: SimOptions): string {
  return `node:
  id: ${id}
  branch_secret: ${SECRET}
listen:
  - id: anycast-udp
    transport: udp
    address: ${ANYCAST}
    port: ${SIP_PORT}
    role: anycast
timers:
  t1: ${o.t1}
  t2: ${o.t2}
  t4: 5000
  timer_c: 60000
registrar:
  enabled: true
  min_expires: 10
  default_expires: 60
admin:
  enabled: false
log:
  level: fatal
anycast:
  mode: ${o.mode}
  second_chance: ${60_000 + 64 * o.t1}
  query_timeout: 50
`;
}
