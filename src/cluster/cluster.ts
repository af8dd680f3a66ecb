// One node's cluster layer: the bus (src/bin-proto) plus membership, built
// from the `cluster:` config section, with its statistics and status.

import { Gauge } from 'prom-client';
import { ClusterBus, type PeerStats } from '../bin-proto/bus.js';
import type { DropReason } from '../bin-proto/frame.js';
import type { ClusterConfig } from '../config/types.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { BusError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { type MetricsHost, slotCounter } from '../core/metrics.js';
import { ClusterMembership, type MemberStatus, type OwnState } from './membership.js';
import type { NodeState } from './types.js';

export interface ClusterOptions {
  config: ClusterConfig;
  node: { id: number; name: string };
  /** Registers anysip_bus_* and anysip_cluster_* metrics on its registry. */
  metrics?: MetricsHost;
  clock?: Clock;
  log?: Logger;
  /** Boot epoch override (tests). */
  epoch?: number;
}

export interface PeerStatus extends PeerStats {
  state: NodeState;
  announced?: NodeState;
  rtt_ms?: number;
  last_heard_ms?: number;
  view?: number;
}

export interface ClusterStatus {
  name: string;
  view: number;
  epoch: number;
  bus: { address: string; port: number };
  self: { id: number; name: string; state: NodeState };
  up: number[];
  frames_in: number;
  frames_out: number;
  /** Every drop, by reason, including frames from connections never identified. */
  drops: Partial<Record<DropReason, number>>;
  peers: PeerStatus[];
}

/** The per-peer counters of /status exported to /metrics (drops by peer stay in /status; the totals by reason are exported). */
export const PEER_COUNTERS = ['frames_in', 'frames_out', 'bytes_in', 'bytes_out', 'relayed', 'connects', 'queued'] as const;

export class Cluster {
  readonly bus: ClusterBus;
  readonly membership: ClusterMembership;
  /** Called once when the node must stop: its id is held by a live node. */
  onFatal: ((err: BusError) => void) | undefined;
  private readonly config: ClusterConfig;
  private readonly log: Logger;

  constructor(opts: ClusterOptions) {
    const c = opts.config;
    this.config = c;
    this.log = opts.log ?? silentLogger();
    const clock = opts.clock ?? systemClock;
    this.bus = new ClusterBus({
      selfId: opts.node.id,
      name: opts.node.name,
      cluster: c.name,
      secret: c.secret,
      ...(opts.epoch !== undefined ? { epoch: opts.epoch } : {}),
      address: c.bus.address,
      port: c.bus.port,
      peers: c.peers,
      maxFrameSize: c.max_frame_size,
      sendQueueLimit: c.send_queue_limit,
      reconnectMinMs: c.reconnect_min,
      reconnectMaxMs: c.reconnect_max,
      liveTimeoutMs: c.failure_timeout,
      clock,
      log: this.log,
    });
    this.membership = new ClusterMembership({
      bus: this.bus,
      name: opts.node.name,
      heartbeatIntervalMs: c.heartbeat_interval,
      failureTimeoutMs: c.failure_timeout,
      rejoinAfterMs: c.rejoin_after,
      clock,
      log: this.log,
    });
    this.bus.on('fatal', (err) => this.onFatal?.(err));
    if (opts.metrics) this.registerMetrics(opts.metrics);
  }

  async start(): Promise<void> {
    const port = await this.bus.start();
    this.membership.start();
    this.log.info(
      { bus: `${this.config.bus.address}:${port}`, peers: this.bus.peerIds(), epoch: this.bus.epoch, cluster: this.config.name },
      'cluster bus started',
    );
  }

  async stop(): Promise<void> {
    this.membership.stop();
    await this.bus.stop();
  }

  /** Announce draining / drained / up. */
  setState(state: OwnState): void {
    this.membership.setState(state);
  }

  status(): ClusterStatus {
    const bus = this.bus.stats();
    const members = new Map<number, MemberStatus>(this.membership.memberStatus().map((m) => [m.id, m]));
    return {
      name: this.config.name,
      view: this.membership.view,
      epoch: this.bus.epoch,
      bus: { address: this.bus.address, port: this.bus.port },
      self: { id: this.bus.selfId, name: members.get(this.bus.selfId)?.name ?? '', state: this.membership.ownState },
      up: [...this.membership.upNodes()],
      frames_in: bus.frames_in,
      frames_out: bus.frames_out,
      drops: bus.drops,
      peers: bus.peers.map((p) => {
        const m = members.get(p.id);
        return {
          ...p,
          name: p.name ?? m?.name,
          state: m?.state ?? 'down',
          ...(m?.announced ? { announced: m.announced } : {}),
          ...(m?.rttMs !== undefined ? { rtt_ms: m.rttMs } : {}),
          ...(m?.last_heard_ms !== undefined ? { last_heard_ms: m.last_heard_ms } : {}),
          ...(m?.view !== undefined ? { view: m.view } : {}),
        };
      }),
    };
  }

  /** The numeric fields of `cluster.peers[]` of /status, each by peer id. */
  private peerCounters(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const key of PEER_COUNTERS) out[key] = {};
    for (const p of this.bus.stats().peers) for (const key of PEER_COUNTERS) out[key]![String(p.id)] = p[key];
    return out;
  }

  private registerMetrics(metrics: MetricsHost): void {
    const registers = [metrics.registry];
    const self = this;
    // /status `cluster` under its own names: anysip_cluster_<key>, per peer anysip_cluster_peer_<key>{peer}.
    metrics.addSnapshot?.({
      prefix: 'cluster_',
      read: () => {
        const s = this.bus.stats();
        return { frames_in: s.frames_in, frames_out: s.frames_out, drops: s.drops as Record<string, number> };
      },
    });
    metrics.addSnapshot?.({ prefix: 'cluster_peer_', read: () => this.peerCounters(), label: 'peer', gauges: ['queued'] });
    const peerCounter = (name: string, help: string, pick: (p: PeerStats) => number) =>
      slotCounter(registers, `anysip_bus_${name}`, help, 'peer', () => Object.fromEntries(self.bus.stats().peers.map((p) => [String(p.id), pick(p)])));
    peerCounter('frames_received_total', 'Authenticated bus frames received, by peer.', (p) => p.frames_in);
    peerCounter('frames_sent_total', 'Bus frames sent, by peer.', (p) => p.frames_out);
    peerCounter('frames_relayed_total', 'Bus frames this node relayed for a peer.', (p) => p.relayed);
    slotCounter(registers, 'anysip_bus_drops_total', 'Bus frames dropped, by reason (bad_mac, replay, truncated, oversized, queue_full, ...).', 'reason', () => self.bus.stats().drops as Record<string, number>);
    new Gauge({
      name: 'anysip_cluster_view',
      help: 'Membership view number (bumps on every change this node sees).',
      registers,
      collect() {
        this.set(self.membership.view);
      },
    });
    new Gauge({
      name: 'anysip_cluster_members',
      help: 'Cluster members by state, this node included.',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const counts: Record<string, number> = { joining: 0, up: 0, draining: 0, drained: 0, down: 0 };
        for (const m of self.membership.members()) counts[m.state] = (counts[m.state] ?? 0) + 1;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'anysip_bus_rtt_seconds',
      help: 'Last measured bus round trip, by peer.',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const m of self.membership.members()) if (m.id !== self.bus.selfId && m.rttMs !== undefined) this.set({ peer: String(m.id) }, m.rttMs / 1000);
      },
    });
  }
}
