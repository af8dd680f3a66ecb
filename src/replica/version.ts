// Versions of replicated records: a hybrid logical clock (wall time in
// microseconds, never behind any version this node has seen) and the writing
// node as the tie-break. Two writes of one key on two nodes order the same
// way everywhere, and a node whose clock lags still writes after what it saw.

import type { Clock } from '../core/clock.js';
import type { StoredRecord } from './types.js';

export class HybridClock {
  private last = 0;

  constructor(private readonly clock: Clock) {}

  /** A version time after every time this node has issued or seen. */
  next(): number {
    const wall = Math.floor(this.clock.now() * 1000);
    this.last = wall > this.last ? wall : this.last + 1;
    return this.last;
  }

  /** Take a time seen on a record from a peer into account. */
  observe(time: number): void {
    if (time > this.last) this.last = time;
  }
}

/**
 * > 0 when `a` wins over `b`: a strict total order on versions, so every node that has seen the
 * same writes holds the same record whatever order they came in. (A table's own rules, like
 * RFC 3261 10.3's Call-ID and CSeq, are applied where the write is made, not here: a rule that
 * compares only some pairs would not be a total order, and replicas could disagree.)
 */
export function compareRecords<V>(a: StoredRecord<V>, b: StoredRecord<V>): number {
  if (a.time !== b.time) return a.time - b.time;
  if (a.origin !== b.origin) return a.origin - b.origin;
  // Same version: a tombstone wins, so replaying a removal and its write in any order ends removed.
  return Number(a.deleted) - Number(b.deleted);
}
