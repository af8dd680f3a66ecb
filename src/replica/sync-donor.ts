// Serving a full-table sync to a peer: the table in chunks, at most `window`
// chunks unacknowledged, a chunk retried later when the bus queue is full, a
// session dropped when its receiver goes quiet. Live iteration over the table:
// what changes meanwhile also reaches the receiver as deltas, and merging is
// order-independent, so the receiver ends whole either way.

import type { Bus } from '../cluster/types.js';
import type { Logger } from '../core/log.js';
import type { Clock } from '../core/clock.js';
import type { ReplicaTable } from './table.js';
import { realScheduler, type ReplicaScheduler, type StoredRecord } from './types.js';
import { encodeSyncChunk, MSG_SYNC_CHUNK, toWire } from './wire.js';

export interface DonorSettings {
  /** Records per chunk at most. */
  chunkRecords: number;
  /** Encoded bytes per chunk at most (well under the bus frame limit). */
  chunkBytes: number;
  /** Sessions served at once; more are refused ('busy') and the receiver tries another peer. */
  maxSessions: number;
  /** A session without an ack for this long is dropped, ms. */
  idleTimeoutMs: number;
}

interface Chunk {
  payload: Uint8Array;
  records: number;
  last: boolean;
}

interface Session<V> {
  peer: number;
  id: number;
  window: number;
  iterator: Iterator<StoredRecord<V>>;
  /** A chunk the bus could not take: sent again before any other. */
  pending: Chunk | undefined;
  peeked: IteratorResult<StoredRecord<V>> | undefined;
  total: number;
  sent: number;
  acked: number;
  done: boolean;
  lastAckAt: number;
  /** Cancels the pending chunk retry. */
  retry: (() => void) | undefined;
}

export class SyncDonor<V> {
  private readonly sessions = new Map<string, Session<V>>();

  constructor(
    private readonly table: ReplicaTable<V>,
    private readonly bus: Bus,
    private readonly settings: DonorSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly timers: ReplicaScheduler = realScheduler,
  ) {}

  request(peer: number, id: number, window: number, schema: number): void {
    if (schema !== this.table.kind.schema) return this.refuse(peer, id, `schema ${schema} is not ${this.table.kind.schema}`);
    this.expire();
    const key = peer + ':' + id;
    for (const s of this.sessions.values()) if (s.peer === peer) this.end(s); // a new request replaces the peer's old one
    if (this.sessions.size >= this.settings.maxSessions) return this.refuse(peer, id, 'busy');
    const session: Session<V> = {
      peer,
      id,
      window: Math.max(1, Math.min(window || 1, 64)),
      iterator: this.table.all(),
      pending: undefined,
      peeked: undefined,
      total: this.table.held,
      sent: 0,
      acked: 0,
      done: false,
      lastAckAt: this.clock.now(),
      retry: undefined,
    };
    this.sessions.set(key, session);
    this.table.counters.syncs_served++;
    this.log.info({ table: this.table.kind.name, peer, session: id, records: session.total }, 'replica: serving a sync');
    this.pump(session);
  }

  ack(peer: number, id: number, index: number): void {
    const s = this.sessions.get(peer + ':' + id);
    if (!s) return;
    s.acked = Math.max(s.acked, index);
    s.lastAckAt = this.clock.now();
    if (s.done && s.acked >= s.sent) this.end(s);
    else this.pump(s);
  }

  /** A peer went down: its sessions end. */
  forget(peer: number): void {
    for (const s of [...this.sessions.values()]) if (s.peer === peer) this.end(s);
  }

  stop(): void {
    for (const s of [...this.sessions.values()]) this.end(s);
  }

  get active(): number {
    return this.sessions.size;
  }

  private pump(s: Session<V>): void {
    while (!s.done && s.sent - s.acked < s.window) {
      const chunk = s.pending ?? this.nextChunk(s);
      if (!this.bus.send(s.peer, this.table.kind.capability, MSG_SYNC_CHUNK, chunk.payload)) {
        // Queue full or link down: the same chunk again shortly.
        s.pending = chunk;
        s.retry ??= this.timers.after(50, () => {
          s.retry = undefined;
          if (this.sessions.has(s.peer + ':' + s.id)) this.pump(s);
        });
        return;
      }
      s.pending = undefined;
      s.sent++;
      this.table.counters.sync_records_sent += chunk.records;
      if (chunk.last) s.done = true;
    }
  }

  /** The next chunk, encoded: up to chunkRecords records or chunkBytes of values, expired ones skipped. */
  private nextChunk(s: Session<V>): Chunk {
    const kind = this.table.kind;
    const now = this.clock.now();
    const records = [];
    let bytes = 0;
    let last = false;
    while (records.length < this.settings.chunkRecords && bytes < this.settings.chunkBytes) {
      const next = s.peeked ?? s.iterator.next();
      s.peeked = undefined;
      if (next.done) {
        last = true;
        break;
      }
      const r = next.value;
      if (r.expiresAt <= now) continue;
      const wire = toWire(kind, r);
      records.push(wire);
      bytes += wire.value.length + wire.key.length + 32;
    }
    if (!last) {
      // Look one ahead, so the chunk that takes the table's end says so (no empty last chunk).
      s.peeked = s.iterator.next();
      last = s.peeked.done === true;
    }
    const payload = encodeSyncChunk({ session: s.id, index: s.sent + 1, records, last, total: s.total, refused: '' });
    return { payload, records: records.length, last };
  }

  private refuse(peer: number, id: number, why: string): void {
    this.bus.send(peer, this.table.kind.capability, MSG_SYNC_CHUNK, encodeSyncChunk({ session: id, index: 0, records: [], last: true, total: 0, refused: why }));
  }

  private expire(): void {
    const now = this.clock.now();
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastAckAt > this.settings.idleTimeoutMs) {
        this.log.warn({ table: this.table.kind.name, peer: s.peer, session: s.id }, 'replica: sync receiver went quiet, session dropped');
        this.end(s);
      }
    }
  }

  private end(s: Session<V>): void {
    s.retry?.();
    s.retry = undefined;
    this.sessions.delete(s.peer + ':' + s.id);
  }
}
