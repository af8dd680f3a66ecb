// The up-sets of recent membership views, each kept for a grace period after
// it was replaced: second chance asks the owners a key had under them. A node
// that (re)starts learns the history from a peer (HISTORY on the bus), since
// the keys that moved before it came up are just as much in play.

import { ownerOfHash } from './rendezvous.js';

export interface PastView {
  up: number[];
  until: number;
}

/** Distinct past up-sets kept; the oldest is forgotten first, even inside its grace period. */
const MAX_PAST = 8;

export class ViewHistory {
  /** Newest first; no two entries with the same set, none equal to the current set. */
  private past: PastView[] = [];
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
    if (this.graceMs > 0) this.remember({ up: this.current, until: now + this.graceMs });
    this.current = [...up];
    this.past = this.past.filter((v) => !sameSet(v.up, this.current));
  }

  /** Past views another node knows of (its export), merged into ours. */
  adopt(views: readonly PastView[], now: number): void {
    for (const v of views) {
      if (v.until > now && !sameSet(v.up, this.current)) this.remember({ up: [...v.up].sort((a, b) => a - b), until: v.until });
    }
    this.past.sort((a, b) => b.until - a.until);
  }

  /** Our past views still in grace, for a node that asks. */
  export(now: number): PastView[] {
    return this.past.filter((v) => v.until > now);
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

  private remember(v: PastView): void {
    const same = this.past.findIndex((p) => sameSet(p.up, v.up));
    if (same >= 0) {
      if (this.past[same]!.until >= v.until) return;
      this.past.splice(same, 1);
    }
    this.past.unshift(v);
    if (this.past.length > MAX_PAST) this.past.length = MAX_PAST;
  }
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
