// Contracts of a replicated table (README.md): what a kind of state declares,
// what a record is, and what a sync reports.

import type { Capability } from '../cluster/types.js';

/** One record. `time` and `origin` are its version; a tombstone (`deleted`) keeps the value it removed. */
export interface StoredRecord<V> {
  key: string;
  /** Hybrid logical clock, microseconds since the epoch (version.ts). */
  time: number;
  /** Node id that wrote this version. */
  origin: number;
  /** Absolute expiry, ms since the epoch. A tombstone's is when it may be forgotten. */
  expiresAt: number;
  deleted: boolean;
  value: V;
}

/** What a kind of state (bindings, dialogs, ...) tells the shared mechanism about itself. */
export interface TableKind<V> {
  /** Name in logs, metrics and /status ('location'). */
  name: string;
  /** The bus capability the table's frames travel on. */
  capability: Capability;
  /** Schema version of the encoded values; frames of another schema are dropped and counted. */
  schema: number;
  encode(value: V): Uint8Array;
  /** May throw on bad bytes: the record is then dropped and counted. */
  decode(bytes: Uint8Array): V;
  /**
   * The longest a live record may live past its version time, ms (registrar.max_expires plus the
   * clock skew allowed). A tombstone is kept this long, so no older write can overtake it: any
   * such write has expired by then and is refused on arrival.
   */
  horizonMs: number;
}

export type SyncState = 'idle' | 'waiting' | 'syncing' | 'done' | 'failed';

/** `sync` of /status: the last (or running) full-table transfer to this node. */
export interface SyncStatus {
  state: SyncState;
  donor?: number;
  session?: number;
  received: number;
  /** Records the donor had when it began. */
  expected?: number;
  chunks: number;
  started_at?: string;
  duration_ms?: number;
  /** Why the last attempt failed, or why no sync was needed ('no donor: no peer is up'). */
  reason?: string;
  attempts: number;
}

/** Counters of one table, exported as anysip_replica_<key>{table}. */
export interface ReplicaCounters {
  deltas_sent: number;
  delta_bytes_sent: number;
  deltas_received: number;
  delta_bytes_received: number;
  records_applied: number;
  records_stale: number;
  records_expired: number;
  /** Frames or records that could not be decoded, or of another schema. */
  dropped_bad: number;
  /** Deltas a peer could not be sent (queue full, no route): that peer is offered a resync. */
  send_failures: number;
  syncs_served: number;
  sync_records_sent: number;
  syncs_done: number;
  syncs_failed: number;
}

/**
 * Where a replicator's timers run (the join-sync retry, a donor's chunk retry, the 250 ms repair
 * tick): real timers by default (`realScheduler`), the simulator's virtual clock in test/sim, so a
 * seed replays exactly.
 */
export interface ReplicaScheduler {
  /** Run `fn` once, `ms` from now; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** Node timers, unref'd: they never keep a process alive. */
export const realScheduler: ReplicaScheduler = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};
