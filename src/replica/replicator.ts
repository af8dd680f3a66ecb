// One replicated table on the bus: local writes go to every live peer as
// deltas, batched per event-loop turn; a node that starts takes the whole
// table from a peer before it may be `up` (the join gate); a peer that comes
// back from `down`, or that a delta could not reach, is repaired by a full
// pull. Every kind of state (bindings, later dialogs, counters) uses this one
// mechanism on a capability of its own.

import type { Bus, BusMessage, JoinGate, Membership, MembershipChange } from '../cluster/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { SyncDonor, type DonorSettings } from './sync-donor.js';
import { SyncReceiver } from './sync-receiver.js';
import type { ReplicaTable } from './table.js';
import { realScheduler, type ReplicaScheduler, type SyncStatus } from './types.js';
import {
  decodeBatch,
  decodeSyncAck,
  decodeSyncChunk,
  decodeSyncRequest,
  encodeBatch,
  fromWire,
  MSG_DELTA,
  MSG_SYNC_ACK,
  MSG_SYNC_CHUNK,
  MSG_SYNC_OFFER,
  MSG_SYNC_REQUEST,
  toWire,
} from './wire.js';

export interface ReplicaSettings extends DonorSettings {
  /** Chunks a donor may have in flight to us. */
  window: number;
  /** A sync donor silent for this long fails the attempt, ms. */
  syncTimeoutMs: number;
  /** Wait between join-sync attempts, ms. */
  retryMs: number;
}

export const DEFAULT_REPLICA_SETTINGS: ReplicaSettings = {
  chunkRecords: 4096,
  chunkBytes: 512 * 1024,
  maxSessions: 4,
  idleTimeoutMs: 10_000,
  window: 4,
  syncTimeoutMs: 5_000,
  retryMs: 250,
};

export interface ReplicatorOptions {
  bus: Bus;
  membership: Membership;
  /** Holds the node in `joining` until the join sync is done (ClusterMembership). Without one, the sync starts at once. */
  gate?: JoinGate;
  clock: Clock;
  log: Logger;
  settings?: Partial<ReplicaSettings>;
  /** Runs `fn` at the end of this event-loop turn (default setImmediate). */
  defer?: (fn: () => void) => void;
  /** false: no repair tick; failed deltas then wait for the next membership change. Default true. */
  timers?: boolean;
  /** Where the timers run (default: real timers). The simulator passes its virtual clock's. */
  scheduler?: ReplicaScheduler;
  /** Each delta record applied here: ms from its write at the origin to now, by the two nodes' clocks (skew included). */
  onDeltaLag?: (ms: number) => void;
}

export class Replicator<V> {
  readonly settings: ReplicaSettings;
  private readonly donor: SyncDonor<V>;
  private readonly receiver: SyncReceiver<V>;
  /** Peers a delta could not reach: offered a pull on the next tick. */
  private readonly behind = new Set<number>();
  /** Donors that offered a pull while one from them was running: pulled again once it ends. */
  private readonly repull = new Set<number>();
  private release: (() => void) | undefined;
  private joined = false;
  private flushQueued = false;
  private readonly timers: ReplicaScheduler;
  /** Cancels the next repair tick (undefined: none armed). */
  private cancelTick: (() => void) | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    readonly table: ReplicaTable<V>,
    private readonly opts: ReplicatorOptions,
  ) {
    this.settings = { ...DEFAULT_REPLICA_SETTINGS, ...opts.settings };
    this.timers = opts.scheduler ?? realScheduler;
    this.donor = new SyncDonor(table, opts.bus, this.settings, opts.clock, opts.log, this.timers);
    this.receiver = new SyncReceiver(
      table,
      opts.bus,
      { window: this.settings.window, timeoutMs: this.settings.syncTimeoutMs },
      opts.clock,
      opts.log,
      (donor, join, ok) => this.syncEnded(donor, join, ok),
    );
    table.setOutboxListener(() => this.queueFlush());
  }

  start(): void {
    const { bus, membership, gate } = this.opts;
    bus.handle(this.table.kind.capability, (msg) => this.receive(msg));
    this.unsubscribe = membership.onChange((c) => this.membershipChanged(c));
    if (this.opts.timers !== false) this.armTick();
    if (gate) {
      this.release = gate.hold(`${this.table.kind.name} sync`);
      gate.onSettled(() => this.join());
    } else {
      this.join();
    }
  }

  stop(): void {
    this.stopped = true;
    this.cancelTick?.();
    this.cancelTick = undefined;
    this.unsubscribe?.();
    this.donor.stop();
  }

  /** The join sync: `sync` of the table's /status. */
  get sync(): SyncStatus {
    return this.receiver.status;
  }

  get serving(): number {
    return this.donor.active;
  }

  /** Send what was written this turn, now (tests; the node waits for the end of the turn). */
  flush(): void {
    this.flushQueued = false;
    const records = this.table.takeOutbox();
    if (records.length === 0) return;
    const kind = this.table.kind;
    const peers = this.livePeers();
    let batch: ReturnType<typeof toWire>[] = [];
    let bytes = 0;
    const sendBatch = () => {
      const payload = encodeBatch(kind.schema, batch);
      for (const peer of peers) {
        if (this.opts.bus.send(peer, kind.capability, MSG_DELTA, payload)) {
          this.table.counters.deltas_sent++;
          this.table.counters.delta_bytes_sent += payload.length;
        } else {
          this.table.counters.send_failures++;
          this.behind.add(peer);
        }
      }
      batch = [];
      bytes = 0;
    };
    for (const r of records) {
      const wire = toWire(kind, r);
      batch.push(wire);
      bytes += wire.value.length + wire.key.length + 32;
      if (bytes >= this.settings.chunkBytes) sendBatch();
    }
    if (batch.length) sendBatch();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    (this.opts.defer ?? setImmediate)(() => this.flush());
  }

  /** Peers that take deltas: every one not `down` (a down one is repaired by a pull when it is back). */
  private livePeers(): number[] {
    const self = this.opts.membership.selfId;
    return this.opts.membership
      .members()
      .filter((m) => m.id !== self && m.state !== 'down')
      .map((m) => m.id);
  }

  private join(): void {
    if (this.joined) return;
    const self = this.opts.membership.selfId;
    const donors = this.opts.membership
      .members()
      .filter((m) => m.id !== self && (m.state === 'up' || m.state === 'draining'))
      .map((m) => m.id);
    if (donors.length === 0) {
      Object.assign(this.receiver.status, { state: 'done', reason: 'no donor: no peer is up', received: 0 });
      this.joinDone();
      return;
    }
    // A pull already running from a donor (it offered one when it saw us back) serves as the join sync.
    const running = donors.find((d) => this.receiver.pulling(d));
    if (running !== undefined) {
      this.receiver.adopt(running);
      return;
    }
    const donor = donors[this.receiver.status.attempts % donors.length]!;
    this.receiver.pull(donor, true);
  }

  private joinDone(): void {
    this.joined = true;
    this.release?.();
    this.release = undefined;
  }

  private syncEnded(donor: number, join: boolean, ok: boolean): void {
    // A pull that began before the donor's offer may lack what the offer was about: pull once more.
    if (this.repull.delete(donor) && ok) this.receiver.pull(donor, false);
    if (!join || this.joined) return;
    if (ok) return this.joinDone();
    this.timers.after(this.settings.retryMs, () => {
      if (!this.stopped) this.join();
    });
  }

  private membershipChanged(c: MembershipChange): void {
    if (c.node === this.opts.membership.selfId) return;
    if (c.to === 'down') {
      this.donor.forget(c.node);
      this.receiver.check(c.node);
      return;
    }
    if (c.from !== 'down' || !this.joined) return;
    // Back from down (restarted, or a partition healed): it may hold writes we missed.
    if (!this.receiver.pulling(c.node)) this.receiver.pull(c.node, false);
    // And it missed ours: while we saw it down, our deltas did not go to it. A restarted node never saw
    // us down and would not ask, and its join sync may have left its donor before our writes got there.
    this.offer(c.node);
  }

  /** Ask `peer` to pull our table (SYNC_OFFER); one the bus cannot take now goes on the next tick. */
  private offer(peer: number): void {
    if (!this.opts.bus.send(peer, this.table.kind.capability, MSG_SYNC_OFFER, new Uint8Array())) this.behind.add(peer);
  }

  /** The repair tick, every 250 ms until stop(). */
  private armTick(): void {
    this.cancelTick = this.timers.after(250, () => {
      if (this.stopped) return;
      this.armTick();
      this.tick();
    });
  }

  private tick(): void {
    this.receiver.check();
    for (const peer of [...this.behind]) {
      if (this.opts.bus.send(peer, this.table.kind.capability, MSG_SYNC_OFFER, new Uint8Array())) this.behind.delete(peer);
    }
  }

  private receive(msg: BusMessage): void {
    const counters = this.table.counters;
    switch (msg.type) {
      case MSG_DELTA: {
        const batch = decodeBatch(msg.payload);
        if (!batch || batch.schema !== this.table.kind.schema) {
          counters.dropped_bad++;
          return;
        }
        counters.deltas_received++;
        counters.delta_bytes_received += msg.payload.length;
        const now = this.opts.clock.now();
        for (const r of fromWire(this.table.kind, batch.records)) {
          if (!r) counters.dropped_bad++;
          else if (this.table.merge(r, now) === 'applied') this.opts.onDeltaLag?.(now - r.time / 1000);
        }
        return;
      }
      case MSG_SYNC_REQUEST: {
        const m = decodeSyncRequest(msg.payload);
        if (m) this.donor.request(msg.src, m.session, m.window, m.schema);
        else counters.dropped_bad++;
        return;
      }
      case MSG_SYNC_CHUNK: {
        const m = decodeSyncChunk(msg.payload);
        if (m) this.receiver.chunk(msg.src, m);
        else counters.dropped_bad++;
        return;
      }
      case MSG_SYNC_ACK: {
        const m = decodeSyncAck(msg.payload);
        if (m) this.donor.ack(msg.src, m.session, m.index);
        else counters.dropped_bad++;
        return;
      }
      case MSG_SYNC_OFFER:
        if (!this.receiver.pulling(msg.src)) this.receiver.pull(msg.src, false);
        else this.repull.add(msg.src);
        return;
      default:
        counters.dropped_bad++;
    }
  }
}
