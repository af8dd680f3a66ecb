// The bus's shared state: options, peers and their links (connections), the
// primitives every part of the bus uses (sign, write with a bounded queue,
// count a drop, pick a relay). The concerns are layered on it as subclasses:
// dialer.ts (connections) -> handshake.ts (hello, id conflicts) -> relay.ts
// (one relay hop, anti-replay of relayed sources) -> bus.ts (ClusterBus: API
// and dispatch).

import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { type Clock, systemClock } from '../core/clock.js';
import type { BusError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { type Corkable, writeBatched } from './batcher.js';
import { DEFAULT_MAX_FRAME_SIZE, type DropReason, type FrameReader, deriveKey, encodeBusFrame } from './frame.js';
import type { ReplayWindow } from './replay.js';
import { type Counters, countDrop, countOut, newCounters } from './stats.js';
import type { BusMessage, Capability } from './types.js';

/** Membership message types handled by the bus itself (anysip.proto MembershipType). */
export const MSG_HELLO = 1;
export const MSG_HEARTBEAT = 2;
export const MSG_ID_IN_USE = 3;

export interface PeerAddress {
  id: number;
  address: string;
  port: number;
}

export interface ClusterBusOptions {
  selfId: number;
  /** This node's name, sent in hellos. */
  name: string;
  /** Cluster name: hellos with another name are refused (a second cluster sharing the secret). */
  cluster: string;
  /** Shared by every node; the HMAC key is derived from it. */
  secret: string;
  /** Unique per process start and growing across restarts. Default: microseconds since 1970 plus noise. */
  epoch?: number;
  /** Unicast address and port to listen on (port 0: ephemeral, tests). */
  address: string;
  port: number;
  /** Known peers (a seed list is enough: others are learned from hellos and heartbeats). */
  peers: PeerAddress[];
  /** Largest frame accepted (length prefix value). Default 1 MiB. */
  maxFrameSize?: number;
  /** Bytes a link may hold unsent before frames are dropped (queue_full). Default 4 MiB. */
  sendQueueLimit?: number;
  /** Reconnect backoff: first delay and cap, ms. Defaults 100 and 5000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** A connection must complete its hello within this, ms. Default 3000. */
  handshakeTimeoutMs?: number;
  /** A link heard from within this long proves its node alive (id conflicts). Default 1000. */
  liveTimeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

export type LinkRoute = 'direct' | 'relay';

export interface BusEvents {
  /** An authenticated, fresh frame from `src` (any capability: liveness). */
  heard: [src: number, epoch: number];
  /** A direct link to `peer` came up or went down. */
  link: [peer: number, up: boolean];
  /** A peer was added (config, learned from a hello or a heartbeat). */
  peer: [peer: number];
  /** A hello accepted for a new boot (epoch) of `peer`. */
  restart: [peer: number, epoch: number];
  /** This node must stop (its id is held by a live node). */
  fatal: [err: BusError];
}

export interface Peer {
  id: number;
  address: string;
  port: number;
  name?: string;
  /** Epoch accepted from this node's hello (or first relayed frame). */
  epoch?: number;
  replay?: ReplayWindow;
  link?: Conn;
  dialing?: Conn;
  timer?: NodeJS.Timeout;
  attempts: number;
  /** Nodes this peer reports a direct link to (relay candidates). */
  reach: Set<number>;
  lastHeard: number;
  lastSent: number;
  stats: Counters;
}

export interface Conn extends Corkable {
  socket: net.Socket;
  reader: FrameReader;
  /** We dialled it. */
  outbound: boolean;
  peerId?: number;
  peerEpoch?: number;
  established: boolean;
  closed: boolean;
  /** A duplicate (or refused) connection being closed: its end does not touch the peer's link. */
  retired: boolean;
  lastHeard: number;
  timer?: NodeJS.Timeout;
}

/** A process-unique, restart-growing epoch: µs since 1970 plus noise (fits a double exactly). */
export function newEpoch(): number {
  return Date.now() * 1000 + Math.floor(Math.random() * 1000);
}

export type ResolvedOptions = Required<Omit<ClusterBusOptions, 'epoch' | 'clock' | 'log' | 'peers'>>;

export abstract class BusBase extends EventEmitter<BusEvents> {
  readonly selfId: number;
  readonly epoch: number;
  protected readonly opts: ResolvedOptions;
  protected readonly key: Buffer;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  protected readonly peers = new Map<number, Peer>();
  protected readonly conns = new Set<Conn>();
  protected readonly handlers = new Map<Capability, (msg: BusMessage) => void>();
  protected readonly totals = newCounters();
  protected server: net.Server | undefined;
  protected boundPort = 0;
  protected seq = 0;
  protected stopped = false;

  constructor(opts: ClusterBusOptions) {
    super();
    this.selfId = opts.selfId;
    this.epoch = opts.epoch ?? newEpoch();
    this.opts = {
      selfId: opts.selfId,
      name: opts.name,
      cluster: opts.cluster,
      secret: opts.secret,
      address: opts.address,
      port: opts.port,
      maxFrameSize: opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      sendQueueLimit: opts.sendQueueLimit ?? 4 * 1024 * 1024,
      reconnectMinMs: opts.reconnectMinMs ?? 100,
      reconnectMaxMs: opts.reconnectMaxMs ?? 5000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 3000,
      liveTimeoutMs: opts.liveTimeoutMs ?? 1000,
    };
    this.key = deriveKey(opts.secret);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger();
  }

  /** Add (or, for a learned peer, re-address) a peer and dial it. */
  abstract addPeer(p: PeerAddress): void;

  protected sign(dst: number, capability: Capability, type: number, payload: Uint8Array, hops: number): Buffer {
    return encodeBusFrame(this.key, { capability, type, src: this.selfId, dst, seq: ++this.seq, epoch: this.epoch, hops, payload });
  }

  protected relayFor(dst: number): Peer | undefined {
    for (const p of this.peers.values()) if (p.link && p.id !== dst && p.reach.has(dst)) return p;
    return undefined;
  }

  /** Queue on a link, bounded: over the limit the frame is dropped and counted. */
  protected write(conn: Conn, peer: Peer | undefined, frame: Buffer): boolean {
    if (conn.closed) {
      this.drop('no_route', peer);
      return false;
    }
    if (conn.socket.writableLength + frame.length > this.opts.sendQueueLimit) {
      this.drop('queue_full', peer);
      return false;
    }
    writeBatched(conn, frame);
    countOut(this.totals, peer?.stats, frame.length);
    if (peer) peer.lastSent = this.clock.now();
    return true;
  }

  /** The peer of an established connection. */
  protected peerOf(conn: Conn): Peer | undefined {
    return conn.established && conn.peerId !== undefined ? this.peers.get(conn.peerId) : undefined;
  }

  protected drop(reason: DropReason, peer?: Peer): void {
    countDrop(this.totals, peer?.stats, reason);
    this.log.debug({ reason, peer: peer?.id }, 'bus drop');
  }
}
