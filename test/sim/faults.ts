// Fault episodes and the cluster's reaction to them: a kill (peers see `down`
// after their failure timeout) and restart, or a drain and undrain; each node
// learns membership changes after its own delay, and the routers re-converge.

import type { NodeState } from '../../src/cluster/types.js';
import type { SimOptions } from './options.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Runtime } from './sim-node.js';

/** What the faults need from the simulation. */
export interface FaultWorld {
  readonly o: SimOptions;
  readonly prng: Prng;
  readonly net: SimNetwork;
  readonly runtimes: ReadonlyMap<number, Runtime>;
  /** Every node's state as the cluster sees it (the truth, not any node's view). */
  readonly states: Map<number, NodeState>;
  now(): number;
  at(time: number, fn: () => void): void;
  startNode(id: number, self: NodeState): Promise<Runtime>;
  /** Keep the counters of a node incarnation that stops. */
  retire(rt: Runtime): void;
  /** Node incarnation `rt` is killed now (its state is still there to look at). */
  died(rt: Runtime): void;
  /** Restarted node incarnation `rt` goes up now (its tables are whole). */
  joined(rt: Runtime): void;
}

export class Faults {
  /** Kill times per node. */
  readonly kills = new Map<number, number[]>();
  readonly log: string[] = [];

  constructor(private readonly w: FaultWorld) {}

  private get nowMs(): number {
    return this.w.now();
  }

  schedule(span: number): void {
    const n = this.w.o.faults;
    if (n <= 0 || this.w.o.nodes < 2) return;
    const slot = (0.8 * span) / n;
    for (let i = 0; i < n; i++) {
      const t = 0.1 * span + i * slot + this.w.prng.range(0, slot * 0.3);
      const kill = this.w.prng.chance(0.5);
      const recover = this.w.prng.range(1500, Math.max(2000, slot * 0.5));
      this.w.at(t, () => (kill ? this.kill(recover) : this.drain(recover)));
    }
  }

  /** Every live node learns that `id` is now `to`, each after its own delay (itself at once). */
  change(id: number, to: NodeState): void {
    this.w.states.set(id, to);
    for (const rt of this.w.runtimes.values()) {
      if (!rt.alive) continue;
      const delay = rt.id === id ? 0 : this.w.prng.range(1, 30);
      const t = Math.max(this.nowMs + delay, rt.memLast);
      rt.memLast = t;
      const inc = rt.incarnation;
      this.w.at(t, () => {
        if (rt.alive && this.w.runtimes.get(rt.id)?.incarnation === inc) rt.membership.apply(id, to);
      });
    }
  }

  /** The routers start (or stop) sending the anycast address to `id`, after routing converges. */
  private route(id: number, announce: boolean): void {
    this.w.at(this.nowMs + this.w.prng.range(50, 300), () => {
      const a = this.w.net.announced.filter((n) => n !== id);
      if (announce && this.w.runtimes.get(id)?.alive) a.push(id);
      this.w.net.announced = a.sort((x, y) => x - y);
    });
  }

  private pickUp(): Runtime | undefined {
    const up = [...this.w.runtimes.values()].filter((r) => r.alive && this.w.states.get(r.id) === 'up');
    if (up.length < 2) return undefined;
    return up[this.w.prng.int(up.length)];
  }

  private kill(restartAfter: number): void {
    const rt = this.pickUp();
    if (!rt) return;
    this.log.push(`t=${Math.round(this.nowMs)} kill node ${rt.id}, restart in ${Math.round(restartAfter)} ms`);
    this.w.died(rt);
    rt.alive = false;
    rt.transport.alive = false;
    this.w.retire(rt);
    const kills = this.kills.get(rt.id) ?? [];
    kills.push(this.nowMs);
    this.kills.set(rt.id, kills);
    this.route(rt.id, false);
    // Peers notice after their failure timeout.
    this.w.at(this.nowMs + this.w.prng.range(300, 900), () => this.change(rt.id, 'down'));
    this.w.at(this.nowMs + restartAfter, () => void this.restart(rt.id));
  }

  private async restart(id: number): Promise<void> {
    this.log.push(`t=${Math.round(this.nowMs)} restart node ${id}`);
    this.change(id, 'joining');
    const rt = await this.w.startNode(id, 'joining');
    // Up once it has heard its peers (100..300 ms) and its replicated tables are whole (the join gate).
    const heard = this.nowMs + this.w.prng.range(100, 300);
    this.w.at(heard, () => {
      rt.membership.settle();
      rt.membership.whenWhole(() => {
        if (!rt.alive || this.w.runtimes.get(id) !== rt) return;
        if (this.nowMs > heard) this.log.push(`t=${Math.round(this.nowMs)} node ${id} held joining until its tables were whole`);
        this.w.joined(rt);
        this.change(id, 'up');
        this.route(id, true);
      });
    });
  }

  private drain(undrainAfter: number): void {
    const rt = this.pickUp();
    if (!rt) return;
    this.log.push(`t=${Math.round(this.nowMs)} drain node ${rt.id}`);
    this.change(rt.id, 'draining');
    this.route(rt.id, false);
    const poll = (): void => {
      if (!rt.alive) return;
      const s = rt.node.tm.stats();
      if (s.serverTransactions + s.clientTransactions > 0 || (rt.node.anycast?.gate.pendingQueries ?? 0) > 0) {
        this.w.at(this.nowMs + 200, poll);
        return;
      }
      this.log.push(`t=${Math.round(this.nowMs)} node ${rt.id} drained`);
      this.change(rt.id, 'drained');
      this.w.at(this.nowMs + undrainAfter, () => {
        this.log.push(`t=${Math.round(this.nowMs)} undrain node ${rt.id}`);
        this.change(rt.id, 'up');
        this.route(rt.id, true);
      });
    };
    this.w.at(this.nowMs + 200, poll);
  }
}
