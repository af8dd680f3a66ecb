// In-memory implementations of the cluster contract (src/cluster/types.ts):
// one Membership view per node, each learning a change after its own delay,
// and a Bus with per-link FIFO delivery (like a TCP link) and a small delay.
// Each view is also the node's JoinGate, as ClusterMembership is: a restarted
// node stays `joining` until its replicated tables are whole (faults.ts waits
// for `whenWhole` before it puts the node `up`).

import type { Bus, BusMessage, Capability, JoinGate, MemberInfo, Membership, MembershipChange, NodeState } from '../../src/cluster/types.js';

export class SimMembership implements Membership, JoinGate {
  view = 1;
  private readonly states = new Map<number, NodeState>();
  private readonly listeners: Array<(c: MembershipChange) => void> = [];
  private up: number[] | null = null;

  constructor(
    readonly selfId: number,
    initial: ReadonlyMap<number, NodeState>,
    settled = true,
  ) {
    this.settled = settled;
    for (const [id, s] of initial) this.states.set(id, s);
  }

  upNodes(): number[] {
    if (this.up === null) {
      const out: number[] = [];
      for (const [id, s] of this.states) if (s === 'up') out.push(id);
      this.up = out.sort((a, b) => a - b);
    }
    return this.up;
  }

  state(id: number): NodeState | undefined {
    return this.states.get(id);
  }

  members(): MemberInfo[] {
    return [...this.states].sort((a, b) => a[0] - b[0]).map(([id, state]) => ({ id, name: `node-${id}`, state }));
  }

  onChange(listener: (change: MembershipChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  // ---- JoinGate -------------------------------------------------------------------

  private readonly holds = new Set<string>();
  private holdCount = 0;
  private readonly whole: Array<() => void> = [];

  hold(reason: string): () => void {
    const token = `${reason}#${++this.holdCount}`;
    this.holds.add(token);
    return () => {
      if (!this.holds.delete(token) || this.holds.size > 0) return;
      for (const fn of this.whole.splice(0)) fn();
    };
  }

  private settled: boolean;
  private readonly settledListeners: Array<() => void> = [];

  /**
   * A node of the initial cluster starts settled (it knows its peers' states); a restarted one
   * settles when faults.ts says it has heard its peers, as ClusterMembership does, so peers' offers
   * and deltas can reach it before it picks a join donor.
   */
  onSettled(listener: () => void): void {
    if (this.settled) queueMicrotask(listener);
    else this.settledListeners.push(listener);
  }

  settle(): void {
    this.settled = true;
    for (const l of this.settledListeners.splice(0)) l();
  }

  /** What keeps this node `joining` (empty once its tables are whole). */
  get holding(): string[] {
    return [...this.holds].map((t) => t.replace(/#\d+$/, ''));
  }

  /** Run `fn` once nothing holds this node (at once if nothing does). */
  whenWhole(fn: () => void): void {
    if (this.holds.size === 0) fn();
    else this.whole.push(fn);
  }

  /** This node learns that `node` is now `to`. */
  apply(node: number, to: NodeState): void {
    const from = this.states.get(node) ?? 'down';
    if (from === to) return;
    this.states.set(node, to);
    this.up = null;
    this.view++;
    const change: MembershipChange = { view: this.view, node, from, to };
    for (const l of [...this.listeners]) l(change);
  }
}

/** What a SimBus needs from the world: where frames go. */
export interface BusWorld {
  busSend(src: number, dst: number, msg: BusMessage): boolean;
}

export class SimBus implements Bus {
  private readonly handlers = new Map<Capability, (msg: BusMessage) => void>();

  constructor(
    readonly selfId: number,
    private readonly world: BusWorld,
  ) {}

  send(dst: number, capability: Capability, type: number, payload: Uint8Array): boolean {
    // The frame is copied: the sender may reuse its buffer.
    return this.world.busSend(this.selfId, dst, { src: this.selfId, capability, type, payload: Buffer.from(payload) });
  }

  handle(capability: Capability, handler: (msg: BusMessage) => void): void {
    this.handlers.set(capability, handler);
  }

  deliver(msg: BusMessage): void {
    this.handlers.get(msg.capability)?.(msg);
  }
}
