// Taking a full-table sync from a peer: ask (SYNC_REQUEST), merge each chunk
// and ack it, so the donor never has more than the window in flight; a donor
// that goes quiet fails the session. The first sync after start is the join
// sync that keeps the node out of `up` (replicator.ts); later pulls repair a
// node that may have missed deltas.

import type { Bus } from '../cluster/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ReplicaTable } from './table.js';
import type { SyncStatus } from './types.js';
import { encodeSyncAck, encodeSyncRequest, fromWire, MSG_SYNC_ACK, MSG_SYNC_REQUEST, type SyncChunkMsg } from './wire.js';

export interface ReceiverSettings {
  window: number;
  /** A donor silent for this long fails the session, ms. */
  timeoutMs: number;
}

interface Inbound {
  id: number;
  donor: number;
  join: boolean;
  index: number;
  received: number;
  expected: number;
  startedAt: number;
  lastHeardAt: number;
}

export type SyncEnd = (donor: number, join: boolean, ok: boolean, reason?: string) => void;

export class SyncReceiver<V> {
  /** The join sync, as /status shows it. */
  readonly status: SyncStatus = { state: 'idle', received: 0, chunks: 0, attempts: 0 };
  private readonly inbound = new Map<number, Inbound>();
  private nextId = 1;

  constructor(
    private readonly table: ReplicaTable<V>,
    private readonly bus: Bus,
    private readonly settings: ReceiverSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly ended: SyncEnd,
  ) {
    // Unique across restarts of this node, so a donor never mistakes a new session for an old one.
    this.nextId = Math.floor(clock.now()) * 1000;
  }

  pulling(donor: number): boolean {
    return this.inbound.has(donor);
  }

  /**
   * Make the pull already running from `donor` the join sync: a peer that saw this node come back
   * offers a pull before the gate settles, and that pull is as whole as a join sync would be.
   */
  adopt(donor: number): void {
    const s = this.inbound.get(donor);
    if (!s || s.join) return;
    s.join = true;
    this.status.attempts++;
    this.joinStarted(s);
  }

  pull(donor: number, join: boolean): boolean {
    const now = this.clock.now();
    const s: Inbound = { id: this.nextId++, donor, join, index: 0, received: 0, expected: 0, startedAt: now, lastHeardAt: now };
    const kind = this.table.kind;
    if (join) this.status.attempts++;
    if (!this.bus.send(donor, kind.capability, MSG_SYNC_REQUEST, encodeSyncRequest({ session: s.id, window: this.settings.window, schema: kind.schema }))) {
      if (join) this.fail(s, 'the request could not be sent');
      return false;
    }
    this.inbound.set(donor, s);
    if (join) this.joinStarted(s);
    return true;
  }

  /** `sync` of /status now follows `s`, from where it stands. */
  private joinStarted(s: Inbound): void {
    Object.assign(this.status, { state: 'syncing', donor: s.donor, session: s.id, received: s.received, chunks: s.index, started_at: new Date().toISOString() });
    delete this.status.reason;
    delete this.status.duration_ms;
    if (s.expected) this.status.expected = s.expected;
    else delete this.status.expected;
  }

  chunk(src: number, m: SyncChunkMsg): void {
    const s = this.inbound.get(src);
    if (!s || s.id !== m.session) return; // an old session's chunk
    if (m.refused) return this.fail(s, `refused by node ${src}: ${m.refused}`);
    if (m.index !== s.index + 1) return this.fail(s, `chunk ${m.index} after ${s.index}`);
    const now = this.clock.now();
    for (const r of fromWire(this.table.kind, m.records)) {
      if (r) this.table.merge(r, now);
      else this.table.counters.dropped_bad++;
    }
    s.index = m.index;
    s.received += m.records.length;
    s.expected = m.total;
    s.lastHeardAt = now;
    if (s.join) Object.assign(this.status, { received: s.received, chunks: s.index, expected: m.total });
    this.bus.send(src, this.table.kind.capability, MSG_SYNC_ACK, encodeSyncAck(s.id, s.index));
    if (!m.last) return;
    this.inbound.delete(src);
    const ms = Math.round(now - s.startedAt);
    this.table.counters.syncs_done++;
    if (s.join) Object.assign(this.status, { state: 'done', duration_ms: ms });
    this.log.info({ table: this.table.kind.name, donor: src, records: s.received, ms, join: s.join }, 'replica: sync done');
    this.ended(src, s.join, true);
  }

  /** Sessions whose donor went quiet, or went down, fail. */
  check(down?: number): void {
    const now = this.clock.now();
    for (const s of [...this.inbound.values()]) {
      if (s.donor === down) this.fail(s, `node ${s.donor} went down`);
      else if (now - s.lastHeardAt > this.settings.timeoutMs) this.fail(s, `no chunk from node ${s.donor} for ${this.settings.timeoutMs} ms`);
    }
  }

  private fail(s: Inbound, reason: string): void {
    this.inbound.delete(s.donor);
    this.table.counters.syncs_failed++;
    if (s.join) Object.assign(this.status, { state: 'failed', reason, duration_ms: Math.round(this.clock.now() - s.startedAt) });
    this.log.warn({ table: this.table.kind.name, donor: s.donor, reason, join: s.join }, 'replica: sync failed');
    this.ended(s.donor, s.join, false, reason);
  }
}
