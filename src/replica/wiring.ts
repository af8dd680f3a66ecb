// How a folder's table joins the cluster: what the node hands every kind of
// state (the bus, membership, the join gate), and the one way a replicator is
// built from it, so each kind (location, auth's counters and bans) replicates
// the same way, the simulator's timing included.

import type { Bus, JoinGate, Membership } from '../cluster/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Registry } from '../core/metrics.js';
import { Replicator, type ReplicatorOptions } from './replicator.js';
import type { ReplicaTable } from './table.js';
import type { ReplicaScheduler } from './types.js';

export interface ReplicaWiring {
  bus: Bus;
  membership: Membership;
  /** Holds the node in `joining` until the table is whole (ClusterMembership). */
  gate?: JoinGate;
  log: Logger;
  /** The simulator: deltas flushed in a microtask so runs replay, and timers on its virtual clock (none without a scheduler). */
  simulated: boolean;
  scheduler?: ReplicaScheduler;
  /** Where a kind exports its histograms (the node's registry). */
  registry?: Registry;
}

/** A started replicator for `table`. */
export function startReplicator<V>(table: ReplicaTable<V>, w: ReplicaWiring, clock: Clock, extra: Partial<ReplicatorOptions> = {}): Replicator<V> {
  const replica = new Replicator(table, {
    ...extra,
    bus: w.bus,
    membership: w.membership,
    ...(w.gate ? { gate: w.gate } : {}),
    clock,
    log: w.log,
    ...(w.simulated ? { defer: queueMicrotask, ...(w.scheduler ? { scheduler: w.scheduler } : { timers: false }) } : {}),
  });
  replica.start();
  return replica;
}
