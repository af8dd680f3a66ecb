// Where copies of a request go for a short while: to the node that asked us
// about it (we said "not here"), or to where we sent it ourselves after asking.
// Bounded: when full, expired entries go first, then the oldest.

import type { Clock } from '../core/clock.js';

interface Promised {
  target: number;
  until: number;
  /** How many times the target had gone down when the promise was made. */
  downs: number;
}

const MAX_PROMISES = 4096;

export class Promises {
  private readonly map = new Map<string, Promised>();
  private readonly downs = new Map<number, number>();

  constructor(
    private readonly clock: Clock,
    /** Base lifetime of a promise in ms. */
    private readonly lifetimeMs: () => number,
  ) {}

  /**
   * The node a promise sends this key to (0: none, or expired, or `alive` says it is gone). With
   * `anyState`, also a node that has died since: a forwarded copy must not start a transaction here even then.
   */
  target(key: string, alive: (node: number) => boolean, anyState = false): number {
    if (this.map.size === 0) return 0;
    const p = this.map.get(key);
    if (p === undefined) return 0;
    if (p.until <= this.clock.now()) {
      this.map.delete(key);
      return 0;
    }
    if (anyState) return p.target;
    // A target that went down since lost the transaction with it, even if it is back (restarted, joining).
    return alive(p.target) && p.downs === (this.downs.get(p.target) ?? 0) ? p.target : 0;
  }

  /** `node` went down: what was promised to it no longer routes there. */
  nodeDown(node: number): void {
    this.downs.set(node, (this.downs.get(node) ?? 0) + 1);
  }

  /** Send copies of `key` to `target` for `factor` lifetimes. */
  add(key: string, target: number, factor = 1): void {
    if (this.map.size >= MAX_PROMISES) {
      const now = this.clock.now();
      for (const [k, v] of this.map) if (v.until <= now) this.map.delete(k);
      if (this.map.size >= MAX_PROMISES) this.map.delete(this.map.keys().next().value as string);
    }
    this.map.set(key, { target, until: this.clock.now() + factor * this.lifetimeMs(), downs: this.downs.get(target) ?? 0 });
  }
}
