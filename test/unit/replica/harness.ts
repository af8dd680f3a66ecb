// A few replicated tables on an in-memory bus: FIFO per link, delivered on a
// later turn, with links that can be cut or made to refuse sends.

import type { Bus, BusMessage, Capability, JoinGate, MemberInfo, Membership, MembershipChange, NodeState } from '../../../src/cluster/types.js';
import type { Clock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/log.js';
import { Replicator, type ReplicaSettings } from '../../../src/replica/replicator.js';
import { ReplicaTable } from '../../../src/replica/table.js';
import type { ReplicaScheduler, TableKind } from '../../../src/replica/types.js';

export const textKind: TableKind<string> = {
  name: 'test',
  capability: 'location',
  schema: 1,
  encode: (v) => Buffer.from(v),
  decode: (b) => {
    const s = Buffer.from(b).toString();
    if (s.startsWith('!')) throw new Error('bad value');
    return s;
  },
  horizonMs: 60_000,
};

export class ManualClock implements Clock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
}

export class World {
  readonly buses = new Map<number, TestBus>();
  readonly memberships = new Map<number, TestMembership>();
  /** Links that refuse sends, as "a-b". */
  readonly refusing = new Set<string>();
  /** Frames sent, by type, for assertions. */
  readonly sent: Array<{ src: number; dst: number; type: number; bytes: number }> = [];
  private pending = 0;

  node(id: number): { bus: TestBus; membership: TestMembership } {
    const bus = new TestBus(id, this);
    const membership = new TestMembership(id, this);
    this.buses.set(id, bus);
    this.memberships.set(id, membership);
    return { bus, membership };
  }

  /** Set a node's state as every node sees it. */
  setState(id: number, state: NodeState): void {
    for (const m of this.memberships.values()) m.apply(id, state);
  }

  send(src: number, dst: number, msg: BusMessage): boolean {
    if (this.refusing.has(`${src}-${dst}`)) return false;
    const target = this.buses.get(dst);
    const state = this.memberships.get(src)?.state(dst);
    if (!target || state === 'down') return false;
    this.sent.push({ src, dst, type: msg.type, bytes: msg.payload.length });
    this.pending++;
    setImmediate(() => {
      this.pending--;
      if (this.memberships.get(dst)?.state(dst) !== 'down') target.deliver(msg);
    });
    return true;
  }

  /** Until no frame is in flight (and every deferred flush has run). */
  async settle(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      await new Promise((r) => setImmediate(r));
      if (this.pending === 0) {
        await new Promise((r) => setImmediate(r));
        if (this.pending === 0) return;
      }
    }
    throw new Error('the world never settled');
  }
}

export class TestBus implements Bus {
  private readonly handlers = new Map<Capability, (m: BusMessage) => void>();
  constructor(
    readonly selfId: number,
    private readonly world: World,
  ) {}
  send(dst: number, capability: Capability, type: number, payload: Uint8Array): boolean {
    return this.world.send(this.selfId, dst, { src: this.selfId, capability, type, payload: Buffer.from(payload) });
  }
  handle(capability: Capability, handler: (m: BusMessage) => void): void {
    this.handlers.set(capability, handler);
  }
  deliver(m: BusMessage): void {
    this.handlers.get(m.capability)?.(m);
  }
}

export class TestMembership implements Membership {
  view = 1;
  private readonly states = new Map<number, NodeState>();
  private readonly listeners: Array<(c: MembershipChange) => void> = [];
  constructor(
    readonly selfId: number,
    private readonly world: World,
  ) {
    for (const [id, m] of world.memberships) this.states.set(id, m.state(id) ?? 'down');
  }
  upNodes(): number[] {
    return [...this.states].filter(([, s]) => s === 'up').map(([id]) => id).sort((a, b) => a - b);
  }
  state(id: number): NodeState | undefined {
    return this.states.get(id) ?? (id === this.selfId ? 'joining' : undefined);
  }
  members(): MemberInfo[] {
    const ids = new Set([...this.world.memberships.keys(), this.selfId]);
    return [...ids].sort((a, b) => a - b).map((id) => ({ id, name: `n${id}`, state: this.state(id) ?? 'down' }));
  }
  onChange(l: (c: MembershipChange) => void): () => void {
    this.listeners.push(l);
    return () => this.listeners.splice(this.listeners.indexOf(l), 1);
  }
  apply(node: number, to: NodeState): void {
    const from = this.states.get(node) ?? 'down';
    if (from === to) return;
    this.states.set(node, to);
    this.view++;
    for (const l of [...this.listeners]) l({ view: this.view, node, from, to });
  }
}

export interface Replica {
  table: ReplicaTable<string>;
  replicator: Replicator<string>;
}

/** A join gate the test settles by hand (the node's membership settles when it knows its peers' states). */
export class ManualGate implements JoinGate {
  readonly holds = new Set<string>();
  private listeners: Array<() => void> = [];
  hold(reason: string): () => void {
    this.holds.add(reason);
    return () => this.holds.delete(reason);
  }
  onSettled(listener: () => void): void {
    this.listeners.push(listener);
  }
  settle(): void {
    for (const l of this.listeners.splice(0)) l();
  }
}

/** A node with a table; `start` starts its replicator (without a gate its join sync begins at once). */
export function replica(world: World, id: number, clock: Clock, settings: Partial<ReplicaSettings> = {}, scheduler?: ReplicaScheduler, gate?: JoinGate): Replica & { start(): void } {
  const { bus, membership } = world.node(id);
  const table = new ReplicaTable(textKind, id, clock);
  const replicator = new Replicator(table, { bus, membership, clock, log: silentLogger(), settings, ...(scheduler ? { scheduler } : {}), ...(gate ? { gate } : {}) });
  return { table, replicator, start: () => replicator.start() };
}

/** key=value of every live record, sorted: what two replicas must agree on. */
export function contents(t: ReplicaTable<string>): string[] {
  return [...t.entries()].map((r) => `${r.key}=${r.value}`).sort();
}

/** A scheduler whose timers run only when the test says so (what the simulator does on its virtual clock). */
export class ManualScheduler implements ReplicaScheduler {
  readonly armed: Array<{ ms: number; fn: () => void; cancelled: boolean }> = [];
  after(ms: number, fn: () => void): () => void {
    const e = { ms, fn, cancelled: false };
    this.armed.push(e);
    return () => {
      e.cancelled = true;
    };
  }
  /** Delays of the timers armed and not cancelled nor run. */
  get pending(): number[] {
    return this.armed.filter((e) => !e.cancelled).map((e) => e.ms);
  }
  /** Run (once) every armed timer of this delay. */
  fire(ms: number): void {
    for (const e of this.armed.splice(0)) {
      if (e.cancelled) continue;
      if (e.ms === ms) e.fn();
      else this.armed.push(e);
    }
  }
}
