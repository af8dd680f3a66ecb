// The up-sets of the last few membership views, each kept for a grace period
// after it was replaced: second chance asks the owners a key had under them.

import { ownerOfHash } from './rendezvous.js';

interface PastView {
  up: number[];
  until: number;
}

/** At most this many past views are kept; older ones are forgotten even inside the grace period. */
const MAX_PAST = 4;

export class ViewHistory {
  private readonly past: PastView[] = [];
  private current: number[];

  constructor(
    initialUp: readonly number[],
    private readonly graceMs: number,
  ) {
    this.current = [...initialUp];
  }

  /** The up-set changed (called on every membership change; unchanged sets are ignored). */
  update(up: readonly number[], now: number): void {
    if (sameSet(up, this.current)) return;
    if (this.graceMs > 0) {
      this.past.unshift({ up: this.current, until: now + this.graceMs });
      if (this.past.length > MAX_PAST) this.past.length = MAX_PAST;
    }
    this.current = [...up];
  }

  /** Distinct owners of `hash` under the past views still in grace, newest first, excluding `exclude`. */
  previousOwners(hash: number, now: number, exclude: number, out: number[]): number[] {
    out.length = 0;
    while (this.past.length > 0 && this.past[this.past.length - 1]!.until <= now) this.past.pop();
    for (const v of this.past) {
      if (v.until <= now || v.up.length === 0) continue;
      const o = ownerOfHash(hash, v.up);
      if (o !== exclude && !out.includes(o)) out.push(o);
    }
    return out;
  }

  get inGrace(): boolean {
    return this.past.length > 0;
  }
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
