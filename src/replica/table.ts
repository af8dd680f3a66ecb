// A replicated table's records on one node: local writes get a new version,
// records from peers are merged by version (version.ts), expiry is by
// absolute time, and removals stay as tombstones for the table's horizon.
// No I/O here: replicator.ts carries what changes to the other nodes.

import type { Clock } from '../core/clock.js';
import { compareRecords, HybridClock } from './version.js';
import type { ReplicaCounters, StoredRecord, TableKind } from './types.js';

/** What a change did, for the kind's own indexes: the live record before and after (undefined: none; an expired one still counts as before). */
export type ChangeListener<V> = (key: string, before: StoredRecord<V> | undefined, after: StoredRecord<V> | undefined) => void;

export type MergeResult = 'applied' | 'stale' | 'expired';

export class ReplicaTable<V> {
  private readonly records = new Map<string, StoredRecord<V>>();
  private readonly listeners: ChangeListener<V>[] = [];
  private readonly hlc: HybridClock;
  private live = 0;
  /** Local writes not yet sent, in order (the replicator takes them once per event-loop turn; none without one). */
  private outbox: StoredRecord<V>[] = [];
  private onOutbox: (() => void) | undefined;

  constructor(
    readonly kind: TableKind<V>,
    readonly selfId: number,
    private readonly clock: Clock,
    readonly counters: ReplicaCounters = newCounters(),
  ) {
    this.hlc = new HybridClock(clock);
  }

  onChange(listener: ChangeListener<V>): void {
    this.listeners.push(listener);
  }

  /** The replicator's hook: called once when the outbox goes from empty to not empty. */
  setOutboxListener(listener: () => void): void {
    this.onOutbox = listener;
  }

  takeOutbox(): StoredRecord<V>[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** The live record of `key` (not expired, not removed). */
  get(key: string, now = this.clock.now()): StoredRecord<V> | undefined {
    const r = this.records.get(key);
    return r && !r.deleted && r.expiresAt > now ? r : undefined;
  }

  /** Write here: a new version that wins over everything this node has seen of the key. */
  put(key: string, value: V, expiresAt: number): StoredRecord<V> {
    return this.write({ key, time: this.hlc.next(), origin: this.selfId, expiresAt, deleted: false, value });
  }

  /** Remove here: a tombstone that keeps `value` (what was removed) until the horizon. */
  remove(key: string, value: V): StoredRecord<V> {
    const time = this.hlc.next();
    return this.write({ key, time, origin: this.selfId, expiresAt: this.tombstoneUntil(time), deleted: true, value });
  }

  /** A record from a peer (delta or sync chunk). */
  merge(incoming: StoredRecord<V>, now = this.clock.now()): MergeResult {
    this.hlc.observe(incoming.time);
    if (incoming.deleted) incoming.expiresAt = Math.max(incoming.expiresAt, this.tombstoneUntil(incoming.time));
    if (incoming.expiresAt <= now) {
      this.counters.records_expired++;
      return 'expired';
    }
    const current = this.records.get(incoming.key);
    if (current && compareRecords(incoming, current) <= 0) {
      this.counters.records_stale++;
      return 'stale';
    }
    this.install(incoming, current);
    this.counters.records_applied++;
    return 'applied';
  }

  /**
   * Expired records become tombstones (no message: every node expires them at the same absolute
   * time); tombstones past the horizon are forgotten. Returns how many live records expired.
   */
  sweep(now = this.clock.now()): number {
    let expired = 0;
    for (const [key, r] of this.records) {
      if (r.expiresAt > now) continue;
      if (r.deleted) {
        this.records.delete(key);
        continue;
      }
      expired++;
      const tomb: StoredRecord<V> = { ...r, deleted: true, expiresAt: this.tombstoneUntil(r.time) };
      this.install(tomb, r);
    }
    return expired;
  }

  /** Every record, tombstones included (what a sync sends). Live iteration: safe while the table changes. */
  all(): IterableIterator<StoredRecord<V>> {
    return this.records.values();
  }

  /** Live records (not removed); expired ones are skipped. */
  *entries(now = this.clock.now()): IterableIterator<StoredRecord<V>> {
    for (const r of this.records.values()) if (!r.deleted && r.expiresAt > now) yield r;
  }

  /** Live records, the not yet swept expired ones included. */
  get size(): number {
    return this.live;
  }

  /** Records held, tombstones included. */
  get held(): number {
    return this.records.size;
  }

  private write(r: StoredRecord<V>): StoredRecord<V> {
    this.install(r, this.records.get(r.key));
    // Kept for sending only when a replicator takes them: a single node's outbox would only grow.
    if (this.onOutbox && this.outbox.push(r) === 1) this.onOutbox();
    return r;
  }

  private install(r: StoredRecord<V>, current: StoredRecord<V> | undefined): void {
    this.records.set(r.key, r);
    const wasLive = current !== undefined && !current.deleted;
    const isLive = !r.deleted;
    this.live += Number(isLive) - Number(wasLive);
    const before = wasLive ? current : undefined;
    const after = isLive ? r : undefined;
    if (before || after) for (const l of this.listeners) l(r.key, before, after);
  }

  private tombstoneUntil(time: number): number {
    return time / 1000 + this.kind.horizonMs;
  }
}

export function newCounters(): ReplicaCounters {
  return {
    deltas_sent: 0,
    delta_bytes_sent: 0,
    deltas_received: 0,
    delta_bytes_received: 0,
    records_applied: 0,
    records_stale: 0,
    records_expired: 0,
    dropped_bad: 0,
    send_failures: 0,
    syncs_served: 0,
    sync_records_sent: 0,
    syncs_done: 0,
    syncs_failed: 0,
  };
}
