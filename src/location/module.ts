// The location service as a node composes it: the table, its replication
// when there is a cluster, NAT keep-alives, and what /status, /metrics and
// GET /location show of it. src/node/node.ts builds one and wires it.

import { ownerOf } from '../anycast/rendezvous.js';
import type { Membership } from '../cluster/types.js';
import type { RegistrarConfig } from '../config/types.js';
import type { Clock } from '../core/clock.js';
import { PREFIX } from '../core/metrics.js';
import { Histogram } from 'prom-client';
import type { Replicator } from '../replica/replicator.js';
import { type ReplicaWiring, startReplicator } from '../replica/wiring.js';
import type { Sender } from '../transport/types.js';
import type { Binding } from './binding.js';
import { Keepalives } from './keepalive.js';
import { LocationService } from './location.js';
import { locationView } from './view.js';

/** Seconds; the target is 50 ms p99, so the buckets are fine around it. */
export const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class LocationModule {
  readonly service: LocationService;
  replica: Replicator<Binding> | undefined;
  keepalives: Keepalives | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: RegistrarConfig,
    private readonly selfId: number,
    private readonly clock: Clock,
  ) {
    this.service = new LocationService({ max_expires: settings.max_expires, max_clock_skew: settings.max_clock_skew * 1000 }, selfId, clock);
  }

  /** Replicate the table over the bus. Must run before membership starts: the gate is held from here. */
  replicate(w: ReplicaWiring): void {
    const lag = w.registry
      ? new Histogram({
          name: PREFIX + 'location_replication_lag_seconds',
          help: 'A binding change from its write on one node to its arrival on this one (the two nodes clocks).',
          buckets: LAG_BUCKETS,
          registers: [w.registry],
        })
      : undefined;
    this.replica = startReplicator(this.service.table, w, this.clock, lag ? { onDeltaLag: (ms: number) => lag.observe(ms < 0 ? 0 : ms / 1000) } : {});
  }

  /** The sweep of expired bindings, and keep-alives when configured. `timers: false`: the simulator drives time. */
  start(sender: Sender, membership: Membership | undefined, timers: boolean): void {
    const r = this.settings;
    if (timers) {
      this.sweepTimer = setInterval(() => this.service.sweep(this.clock.now()), 1000);
      this.sweepTimer.unref();
    }
    if (r.keepalive_interval <= 0) return;
    const self = this.selfId;
    // A UDP binding's duty is its key's rendezvous owner over the up nodes: it moves when that node leaves.
    const isMine = membership ? (key: string) => ownerOf(key, membership.upNodes()) === self : () => true;
    this.keepalives = new Keepalives(this.service, { interval: r.keepalive_interval, nated_only: r.keepalive_nated_only, method: r.keepalive_method }, sender, isMine, this.clock);
    if (timers) this.keepalives.start();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    this.replica?.stop();
    this.keepalives?.stop();
  }

  /** `location` of /status. */
  status(): Record<string, unknown> {
    const l = this.service;
    return {
      bindings: l.size,
      aors: l.aors,
      records: l.table.held,
      ...(this.replica ? { sync: this.replica.sync, serving: this.replica.serving } : {}),
      replication: l.table.counters,
      ...(this.keepalives ? { keepalives: this.keepalives.counters } : {}),
    };
  }

  /** anysip_location_* of /metrics (GAUGES are gauges, the rest counters). */
  figures(): Record<string, number> {
    const l = this.service;
    const s = this.replica?.sync;
    return {
      bindings: l.size,
      aors: l.aors,
      records: l.table.held,
      ...l.table.counters,
      ...(s ? { sync_duration_ms: s.duration_ms ?? 0, sync_received: s.received } : {}),
      ...(this.keepalives?.counters ?? {}),
    };
  }

  static readonly GAUGES = ['bindings', 'aors', 'records', 'sync_duration_ms', 'sync_received'];

  /** GET /location. */
  view() {
    return locationView(this.service, () => this.clock.now());
  }
}
