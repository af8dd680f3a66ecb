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
import { Node } from '../../src/node/node.js';
import type { SipMessage } from '../../src/sip/message.js';
import { TimerWheel } from '../../src/tm/timer-wheel.js';
import type { Destination, Envelope } from '../../src/transport/types.js';
import type { AnycastSnapshot } from '../../src/anycast/index.js';
import { MSG_ANSWER, MSG_FORWARD, MSG_QUERY, MSG_RELAY } from '../../src/anycast/wire.js';
import { MSG_DELTA as MSG_DELTA_LOCATION } from '../../src/replica/wire.js';
import { Call, makeLocationPlan, makePlan, type Plan } from './call.js';
import { SimBus, SimMembership } from './cluster.js';
import { EventQueue } from './events.js';
import { Excuses, MAX_EXCUSED } from './excuses.js';
import { Faults } from './faults.js';
import { Invariants } from './invariants.js';
import { LocationChecks } from './location-checks.js';
import { LOCATION_DOMAIN, LocationPlan } from './location-plan.js';
import { SimNetwork } from './network.js';
import { DEFAULTS, nodeYaml, type SimOptions, type SimResult } from './options.js';
import { Phone, type PhoneWorld } from './phone.js';
import { Prng } from './prng.js';
import { describe, SimNodeTransport, wheelScheduler, type Runtime } from './sim-node.js';

export { DEFAULTS, type SimOptions, type SimResult } from './options.js';

const STEP_MS = 1;
const IDLE_STEP_MS = 10;

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
  readonly runtimes = new Map<number, Runtime>();
  /** Every node incarnation ever started (their tm state is checked at the end if alive). */
  readonly states = new Map<number, NodeState>();
  private readonly linkLast = new Map<string, number>();
  private readonly calls: Call[] = [];
  private readonly callById = new Map<string, Call>();
  readonly phones: Phone[] = [];
  private finishedCalls = 0;
  readonly violations: string[] = [];
  private readonly busCount = { forward: 0, query: 0, answer: 0, relay: 0, bytes: 0, lost: 0 };
  /** Anycast metrics of node incarnations that died, so totals survive restarts. */
  private readonly deadMetrics: AnycastSnapshot[] = [];
  private readonly deadDrops: Record<string, number>[] = [];
  private readonly outcomes: Record<string, number> = {};
  private readonly faults: Faults;
  private readonly checks: Invariants;
  readonly location: LocationChecks;
  /** The location plan's users and oracle (--plan location). */
  readonly locationPlan: LocationPlan | undefined;
  readonly excuses = new Excuses((callId) => this.callById.get(callId));

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
    this.faults = new Faults(this);
    this.checks = new Invariants(this);
    this.location = new LocationChecks(this);
    if (this.o.plan === 'location') {
      const lp = new LocationPlan(this, this.o.users > 0 ? this.o.users : Math.max(8, Math.round(this.o.calls / 12)));
      lp.users.forEach((host, k) => this.net.attach(LocationPlan.address(k), host));
      this.location.onQuiet = (nodes) => lp.sweep(nodes);
      this.locationPlan = lp;
    }
  }

  get kills(): ReadonlyMap<number, number[]> {
    return this.faults.kills;
  }

  now(): number {
    return this.nowMs;
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

  sawRequest(phone: Phone, req: SipMessage): void {
    this.checks.sawRequest(phone, req);
  }

  // ---- nodes -------------------------------------------------------------------------

  async startNode(id: number, self: NodeState): Promise<Runtime> {
    const prev = this.runtimes.get(id);
    const incarnation = (prev?.incarnation ?? 0) + 1;
    const initial = new Map<number, NodeState>();
    for (const [n, s] of this.states) initial.set(n, s);
    initial.set(id, self);
    this.states.set(id, self);
    const membership = new SimMembership(id, initial, self !== 'joining');
    const bus = new SimBus(id, { busSend: (src, dst, msg) => this.busSend(src, dst, msg) });
    const transport = new SimNodeTransport(this.net, (data) => this.excuses.sent(id, data));
    const config = parseConfig(nodeYaml(id, this.o), `sim-node-${id}.yaml`);
    const log = this.o.verbose ? createLogger({ name: `sim-${id}`, level: 'debug', nodeId: id, stream: process.stderr }) : silentLogger();
    const replicaWheel = new TimerWheel({ now: this.nowMs });
    const rt: Runtime = { id, incarnation, alive: true, node: undefined as unknown as Node, membership, bus, transport, memLast: 0, replicaWheel };
    rt.node = new Node(config, {
      log,
      clock: this.clock,
      transport,
      ...(this.o.noGate ? {} : { bus, membership, gate: membership, replicaScheduler: wheelScheduler(replicaWheel) }),
      realTimers: false,
      anycastEvents: {
        onForward: (dst, msg, env, second) => {
          if (env.hops !== 0) this.violation(`node ${id} forwarded a ${describe(msg)} that had already made ${env.hops} hop(s)`);
          this.trace(msg, `node ${id} -> node ${dst}${second ? ' (second chance)' : ''}`);
        },
        onLocal: (msg, env) => {
          this.trace(msg, `node ${id} local (hops ${env.hops})`);
          this.locationPlan?.handed(rt, msg);
          this.checks.checkLocal(rt, msg);
          this.excuses.server(id, msg);
        },
      },
    });
    this.locationPlan?.watch(rt);
    // The node's wheel must start at the current virtual time.
    rt.node.wheel.advance(this.nowMs);
    this.runtimes.set(id, rt);
    await rt.node.start();
    return rt;
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
    const location = msg.capability === 'location';
    if (location && this.o.dropLocationDeltas && msg.type === MSG_DELTA_LOCATION) {
      c.lost++;
      return;
    }
    if (location) this.location.frameSent();
    this.at(t, () => {
      const r = this.runtimes.get(dst);
      if (r === undefined || !r.alive || r.incarnation !== inc) {
        c.lost++;
      } else {
        r.bus.deliver(msg);
      }
      if (location) this.location.frameDone();
    });
  }

  /** A (re)started node goes up: it must hold every binding the others hold. */
  joined(rt: Runtime): void {
    this.location.joined(rt);
  }

  died(rt: Runtime): void {
    this.excuses.died(rt);
  }

  /** Keep the counters of a node incarnation that stops. */
  retire(rt: Runtime): void {
    if (rt.node.anycast) this.deadMetrics.push(rt.node.anycast.metrics.snapshot());
    this.deadDrops.push(rt.node.metrics.counters().sip_drops_total);
  }

  // ---- calls -----------------------------------------------------------------------------

  private placeCall(i: number): void {
    const lp = this.locationPlan;
    let plan: Plan;
    if (lp) {
      const k = this.prng.int(lp.users.length);
      plan = makeLocationPlan(this.prng, k, lp.isBusy(k), `sip:${LOCATION_DOMAIN}`);
    } else {
      plan = makePlan(this.prng);
    }
    const hi = i >> 16;
    const mid = (i >> 8) & 255;
    const lo = i & 255;
    const callerAddr = `10.${1 + 2 * hi}.${mid}.${lo}`;
    const calleeAddr = `10.${2 + 2 * hi}.${mid}.${lo}`;
    const callId = `sim-${this.o.seed}-${i}-${this.prng.token(6)}`;
    let caller: Phone;
    let callee: Phone;
    if (lp && plan.user !== undefined) {
      // Location plan: the user's own address REGISTERs; a call to the user comes from a phone of its own.
      const k = plan.user;
      const aor = lp.users[k]!.aor;
      if (plan.kind === 'register') {
        caller = new Phone(this, LocationPlan.address(k), aor);
        callee = new Phone(this, calleeAddr, `sip:nobody${i}@${calleeAddr}:5060`);
        lp.attach(k, callId, caller);
        lp.registering(k, plan.expires === 0);
      } else {
        caller = new Phone(this, callerAddr, `sip:caller${i}@${callerAddr}`);
        callee = new Phone(this, LocationPlan.address(k), aor);
        this.net.attach(callerAddr, caller);
        lp.attach(k, callId, callee);
      }
    } else {
      caller = new Phone(this, callerAddr, plan.kind === 'register' ? `sip:u${i}@reg.sim` : `sip:caller${i}@${callerAddr}`);
      callee = new Phone(this, calleeAddr, `sip:callee${i}@${calleeAddr}:5060`);
      this.net.attach(callerAddr, caller);
      this.net.attach(calleeAddr, callee);
    }
    this.phones.push(caller, callee);
    const call = new Call(this, i, callId, plan, caller, callee, (c) => this.finished(c));
    this.calls.push(call);
    this.callById.set(call.callId, call);
    if ((i & 255) === 255) for (const rt of this.runtimes.values()) if (rt.alive) this.excuses.prune(rt);
    call.start();
    const faults = this.o.faults > 0 ? 60_000 + 64 * this.t1 : 0;
    this.at(call.deadline(faults), () => {
      if (call.finished) return;
      this.violation(`call ${call.callId} (${plan.kind}) did not end within its timer bounds: ${call.giveUp()}\n    caller: ${caller.trace.join(' | ')}\n    callee: ${callee.trace.join(' | ')}`);
      this.finishedCalls++;
      if (plan.kind === 'register' && plan.user !== undefined) this.locationPlan?.registered(plan.user, call.callId, plan.expires ?? 60, 0);
    });
  }

  private finished(call: Call): void {
    this.finishedCalls++;
    const outcome = `${call.plan.kind}:${call.callerFinal}${call.byeStatus ? '/bye' + call.byeStatus : ''}`;
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    const p = call.plan;
    if (p.kind === 'register' && p.user !== undefined) this.locationPlan?.registered(p.user, call.callId, p.expires ?? 60, call.callerFinal);
    this.checks.callEnded(call, this.locationPlan?.expectation(call.callId));
  }

  // ---- the loop ----------------------------------------------------------------------------

  async run(): Promise<SimResult> {
    const o = this.o;
    // The cluster boots one node after the other: each starts knowing the nodes started before it (the
    // first has no donor for its tables, the others sync from one), then all learn of all at time 0.
    for (let id = 1; id <= o.nodes; id++) {
      this.states.set(id, 'up');
      await this.startNode(id, 'up');
    }
    for (const rt of this.runtimes.values()) for (let id = 1; id <= o.nodes; id++) rt.membership.apply(id, 'up');
    this.net.announced = [...this.runtimes.keys()].sort((a, b) => a - b);
    const gap = 1000 / o.rate;
    const span = o.calls * gap;
    for (let i = 0; i < o.calls; i++) {
      const t = i * gap + this.prng.range(0, gap);
      this.at(t, () => this.placeCall(i));
    }
    this.faults.schedule(span);

    let quietUntil = Infinity;
    for (;;) {
      const next = this.events.peekTime();
      const step = this.events.size > 0 ? STEP_MS : IDLE_STEP_MS;
      const target = Math.min(next, this.nowMs + step);
      this.nowMs = target;
      for (const rt of this.runtimes.values()) {
        if (!rt.alive) continue;
        rt.node.wheel.advance(target);
        rt.replicaWheel.advance(target);
      }
      this.wheel.advance(target);
      await drain();
      while (this.events.peekTime() <= target) {
        this.events.pop()!.run();
        await drain();
      }
      this.location.step();
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
    this.checks.checkLeaks();
    this.location.final();
    return this.result();
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
    const excuses = this.excuses.report();
    if (excuses.excused > MAX_EXCUSED * this.calls.length) {
      this.violation(`kills excused failed checks on ${excuses.excused} of ${this.calls.length} calls, more than ${MAX_EXCUSED * 100}%: ${JSON.stringify(excuses.waived)}`);
    }
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
      faults: this.faults.log,
      excuses,
      location: { ...this.location.stats },
      ...(this.locationPlan ? { locationPlan: { ...this.locationPlan.stats } } : {}),
      violations: this.violations,
    };
  }
}

/** Let every promise job queued so far (and those they queue) run. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
