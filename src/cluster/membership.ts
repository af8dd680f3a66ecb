// Membership over the bus: heartbeats, failure detection with hysteresis,
// node states and the view number the anycast layer keys ownership on.
//
// Each node announces its own state (joining, up, draining, drained) in its
// heartbeats; `down` is what the others conclude when they stop hearing it.
// Any authenticated frame from a peer counts as liveness, so heartbeats ride
// on regular traffic: a heartbeat is only sent on a link that carried nothing
// else for a heartbeat interval (and at least every 5 intervals, for RTT).

import { type ClusterBus, MSG_HEARTBEAT } from '../bin-proto/bus.js';
import { pb, u64 } from '../bin-proto/proto.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type Logger, silentLogger } from '../core/log.js';
import type { JoinGate, MemberInfo, Membership, MembershipChange, NodeState } from './types.js';

export interface ClusterMembershipOptions {
  bus: ClusterBus;
  /** This node's name (status, heartbeats). */
  name: string;
  /** Heartbeat period, ms. Default 200. */
  heartbeatIntervalMs?: number;
  /** A peer not heard for this long is `down`, ms. Default 800. */
  failureTimeoutMs?: number;
  /** A peer that went down must be heard without a gap for this long before it counts again, ms. Default 600. */
  rejoinAfterMs?: number;
  /** Leave `joining` at the latest after this long, even if some peers never answered, ms. Default failureTimeoutMs. */
  joinTimeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** What /status shows for one member. */
export interface MemberStatus extends MemberInfo {
  /** The state the member announces (last heartbeat), when heard. */
  announced?: NodeState;
  epoch?: number;
  /** Ms since anything was heard from it. */
  last_heard_ms?: number;
  /** Its own view number (last heartbeat). */
  view?: number;
}

interface Member {
  id: number;
  name: string;
  state: NodeState;
  announced?: NodeState;
  epoch?: number;
  lastHeard: number;
  /** Start of the current run of frames without a gap (hysteresis). */
  streakStart: number;
  /** Was up in this epoch: a return after `down` must wait `rejoinAfterMs`. */
  wasUp: boolean;
  rttMs?: number;
  peerView?: number;
  /** Their last heartbeat's sent_at and when we got it (to echo back). */
  echo?: { sentAt: number; receivedAt: number };
  lastHeartbeat: number;
}

const STATE_CODE: Record<NodeState, number> = { joining: 1, up: 2, draining: 3, drained: 4, down: 5 };
const STATE_OF: (NodeState | undefined)[] = [undefined, 'joining', 'up', 'draining', 'drained', 'down'];

/** States a node may set for itself (down is only ever concluded by others). */
export type OwnState = Exclude<NodeState, 'down'>;

export class ClusterMembership implements Membership, JoinGate {
  readonly selfId: number;
  private readonly bus: ClusterBus;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly interval: number;
  private readonly failureTimeout: number;
  private readonly rejoinAfter: number;
  private readonly joinTimeout: number;
  private readonly byId = new Map<number, Member>();
  private readonly listeners = new Set<(c: MembershipChange) => void>();
  private selfState: OwnState = 'joining';
  private viewNo = 1;
  /** upNodes() of the current view; undefined once the view changes (changed()). */
  private upCache: number[] | undefined;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly selfName: string;
  /** Reasons this node stays `joining` (a replicated table still syncing). */
  private readonly holds = new Set<string>();
  private readonly settledListeners: Array<() => void> = [];
  private settled = false;

  constructor(opts: ClusterMembershipOptions) {
    this.bus = opts.bus;
    this.selfId = opts.bus.selfId;
    this.selfName = opts.name;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger();
    this.interval = opts.heartbeatIntervalMs ?? 200;
    this.failureTimeout = opts.failureTimeoutMs ?? 800;
    this.rejoinAfter = opts.rejoinAfterMs ?? 600;
    this.joinTimeout = opts.joinTimeoutMs ?? this.failureTimeout;
    this.startedAt = this.clock.now();
    for (const id of this.bus.peerIds()) this.addMember(id);
    this.bus.on('peer', (id) => {
      if (id !== this.selfId && !this.byId.has(id)) this.log.info({ peer: id }, 'cluster: new member');
      this.addMember(id);
    });
    this.bus.on('heard', (id, epoch) => this.heard(id, epoch));
    this.bus.on('restart', (id, epoch) => this.restarted(id, epoch));
    this.bus.on('link', (id, up) => {
      if (up) this.sendHeartbeat(id); // state and view at once, not one interval later
    });
    this.bus.handle('membership', (msg) => {
      if (msg.type === MSG_HEARTBEAT) this.onHeartbeat(msg.src, msg.payload);
    });
  }

  /** Start heartbeats and failure detection (call after the bus has started). */
  start(): void {
    this.startedAt = this.clock.now();
    const tick = Math.max(10, Math.min(50, Math.floor(this.interval / 4)));
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get view(): number {
    return this.viewNo;
  }

  /** This node's own state. */
  get ownState(): OwnState {
    return this.selfState;
  }

  /** Announce a new own state (draining, drained, up). Bumps the view and tells every peer at once. */
  setState(state: OwnState): void {
    if (state === this.selfState) return;
    const from = this.selfState;
    this.selfState = state;
    this.changed(this.selfId, from, state);
    for (const id of this.byId.keys()) this.sendHeartbeat(id);
  }

  hold(reason: string): () => void {
    const token = `${reason}#${this.holds.size + 1}`;
    this.holds.add(token);
    return () => {
      if (this.holds.delete(token)) this.tick();
    };
  }

  onSettled(listener: () => void): void {
    if (this.settled) queueMicrotask(listener);
    else this.settledListeners.push(listener);
  }

  /** What keeps this node `joining` (empty once up). */
  get holding(): string[] {
    return [...this.holds].map((t) => t.replace(/#\d+$/, ''));
  }

  /**
   * Ascending, self included when up. Built once per view, not per call: the anycast gate and the
   * abuse counters ask for it on every request. A new array on each change, so a caller holding
   * an old one keeps what it saw; callers must not change it.
   */
  upNodes(): readonly number[] {
    if (this.upCache) return this.upCache;
    const out: number[] = [];
    if (this.selfState === 'up') out.push(this.selfId);
    for (const m of this.byId.values()) if (m.state === 'up') out.push(m.id);
    return (this.upCache = out.sort((a, b) => a - b));
  }

  state(id: number): NodeState | undefined {
    if (id === this.selfId) return this.selfState;
    return this.byId.get(id)?.state;
  }

  members(): MemberInfo[] {
    return this.memberStatus().map((m) => ({ id: m.id, name: m.name, state: m.state, ...(m.rttMs !== undefined ? { rttMs: m.rttMs } : {}) }));
  }

  /** Self first, then peers by id, with what the status page shows. */
  memberStatus(): MemberStatus[] {
    const now = this.clock.now();
    const self: MemberStatus = { id: this.selfId, name: this.selfName, state: this.selfState, epoch: this.bus.epoch, view: this.viewNo };
    const peers = [...this.byId.values()]
      .sort((a, b) => a.id - b.id)
      .map((m): MemberStatus => ({
        id: m.id,
        name: m.name,
        state: m.state,
        ...(m.rttMs !== undefined ? { rttMs: Math.round(m.rttMs * 1000) / 1000 } : {}),
        ...(m.announced ? { announced: m.announced } : {}),
        ...(m.epoch !== undefined ? { epoch: m.epoch } : {}),
        ...(m.lastHeard ? { last_heard_ms: Math.round(now - m.lastHeard) } : {}),
        ...(m.peerView !== undefined ? { view: m.peerView } : {}),
      }));
    return [self, ...peers];
  }

  onChange(listener: (change: MembershipChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // -------------------------------------------------------------------------

  private addMember(id: number): void {
    if (id === this.selfId || this.byId.has(id)) return;
    this.byId.set(id, { id, name: `anysip-${id}`, state: 'down', lastHeard: 0, streakStart: 0, wasUp: false, lastHeartbeat: 0 });
  }

  private heard(id: number, epoch: number): void {
    const m = this.byId.get(id);
    if (!m) return;
    const now = this.clock.now();
    if (m.epoch !== undefined && epoch !== m.epoch) this.restarted(id, epoch);
    m.epoch = epoch;
    // A gap longer than two heartbeats breaks the streak a returning peer needs.
    if (!m.lastHeard || now - m.lastHeard > 2 * this.interval) m.streakStart = now;
    m.lastHeard = now;
    // Until its first heartbeat says what state it is in, a peer stays as it was.
    if (m.state === 'down' && m.announced) this.evaluate(m, now);
  }

  /** A new boot of a peer: it starts afresh, without the flap hysteresis of its old self. */
  private restarted(id: number, epoch: number): void {
    const m = this.byId.get(id);
    if (!m || m.epoch === epoch) return;
    this.log.info({ peer: id, epoch }, 'cluster: peer restarted');
    m.epoch = epoch;
    m.wasUp = false;
    m.announced = undefined;
    m.echo = undefined;
    m.rttMs = undefined;
    m.peerView = undefined;
  }

  private onHeartbeat(src: number, payload: Uint8Array): void {
    const m = this.byId.get(src);
    if (!m) return;
    let hb;
    try {
      hb = pb.Heartbeat.decode(payload);
    } catch {
      this.log.debug({ peer: src }, 'cluster: malformed heartbeat');
      return;
    }
    const now = this.clock.now();
    const announced = STATE_OF[hb.state ?? 0];
    if (announced && announced !== 'down') m.announced = announced;
    m.peerView = u64(hb.view);
    if (hb.sentAt) m.echo = { sentAt: hb.sentAt, receivedAt: now };
    if (hb.echoSentAt) {
      const rtt = now - hb.echoSentAt - (hb.echoDelay ?? 0);
      if (rtt >= 0 && rtt < 60_000) m.rttMs = rtt;
    }
    const reach: number[] = [];
    for (const v of hb.members ?? []) {
      const id = v.id ?? 0;
      if (!id) continue;
      if (id === src && v.name) m.name = v.name;
      if (v.linked) reach.push(id);
      if (id !== this.selfId && id !== src && v.busAddress && v.busPort) {
        this.bus.addPeer({ id, address: v.busAddress, port: v.busPort }); // learn the cluster from a seed
      }
    }
    this.bus.setReach(src, reach);
    this.evaluate(m, now);
  }

  private tick(): void {
    const now = this.clock.now();
    for (const m of this.byId.values()) {
      this.evaluate(m, now);
      const quiet = now - m.lastHeartbeat >= this.interval;
      const idle = now - (this.bus.peerInfo(m.id)?.lastSent ?? 0) >= this.interval;
      if (quiet && (idle || now - m.lastHeartbeat >= 5 * this.interval)) this.sendHeartbeat(m.id);
    }
    if (this.selfState === 'joining') {
      if (!this.settled) {
        const known = [...this.byId.values()].every((m) => m.announced !== undefined || m.state !== 'down');
        if (known || now - this.startedAt >= this.joinTimeout) this.settle();
      }
      if (this.settled && this.holds.size === 0) this.setState('up');
    }
  }

  private settle(): void {
    this.settled = true;
    for (const l of this.settledListeners.splice(0)) {
      try {
        l();
      } catch (err) {
        this.log.error({ err }, 'cluster: settled listener threw');
      }
    }
  }

  private evaluate(m: Member, now: number): void {
    const alive = m.lastHeard > 0 && now - m.lastHeard <= this.failureTimeout;
    let target: NodeState;
    if (!alive) target = 'down';
    else if (m.state === 'down' && m.wasUp && now - m.streakStart < this.rejoinAfter) target = 'down'; // hysteresis
    else if (!m.announced) return; // heard, but no heartbeat yet: keep the current state
    else target = m.announced;
    if (target === m.state) return;
    const from = m.state;
    m.state = target;
    if (target === 'up') m.wasUp = true;
    this.changed(m.id, from, target, m.lastHeard ? Math.round(now - m.lastHeard) : undefined);
  }

  /** One change, one view: logged (one line each, info or above) and told to the listeners. */
  private changed(node: number, from: NodeState, to: NodeState, silentMs?: number): void {
    this.upCache = undefined;
    this.viewNo++;
    const change: MembershipChange = { view: this.viewNo, node, from, to };
    const view = this.viewNo;
    if (node === this.selfId) this.log.info({ view, from, to }, 'cluster: own state');
    else if (to === 'down') this.log.warn({ view, peer: node, from, silent_ms: silentMs }, 'cluster: peer down');
    else if (from === 'down') this.log.info({ view, peer: node, name: this.byId.get(node)?.name, to }, 'cluster: peer joined');
    else this.log.info({ view, peer: node, from, to }, 'cluster: peer state');
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.log.error({ err }, 'cluster: membership listener threw');
      }
    }
  }

  private sendHeartbeat(id: number): void {
    const m = this.byId.get(id);
    if (!m || !this.bus.route(id)) return;
    const now = this.clock.now();
    const members = [
      { id: this.selfId, state: STATE_CODE[this.selfState], epoch: this.bus.epoch, name: this.selfName, busAddress: this.bus.address, busPort: this.bus.port },
      ...[...this.byId.values()].map((x) => {
        const info = this.bus.peerInfo(x.id);
        return {
          id: x.id,
          state: STATE_CODE[x.state],
          epoch: x.epoch ?? 0,
          name: x.name,
          busAddress: info?.address ?? '',
          busPort: info?.port ?? 0,
          linked: this.bus.linked(x.id),
        };
      }),
    ];
    const payload = pb.Heartbeat.encode({
      state: STATE_CODE[this.selfState],
      view: this.viewNo,
      sentAt: now,
      echoSentAt: m.echo?.sentAt ?? 0,
      echoDelay: m.echo ? now - m.echo.receivedAt : 0,
      members,
    }).finish();
    if (this.bus.send(id, 'membership', MSG_HEARTBEAT, payload)) m.lastHeartbeat = now;
  }
}
