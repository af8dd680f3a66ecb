// The cluster bus: one authenticated TCP link per pair of nodes, carrying
// length-delimited protobuf frames (frame.ts) between their unicast bus
// addresses. Links are (re)dialled with exponential backoff and jitter, each
// has a bounded send queue, and a frame whose direct link is down is relayed
// once through a node that reaches the destination.
//
// Nothing a peer (or anyone who can reach the port) sends may throw out of
// here, crash the node or stall another link: every bad frame is a counted drop.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Bus, BusMessage, Capability } from './types.js';
import { type Clock, systemClock } from '../core/clock.js';
import { BusError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  type DropReason,
  type Frame,
  FrameReader,
  deriveKey,
  encodeBusFrame,
  verifyFrame,
} from './frame.js';
import { pb, u64 } from './proto.js';
import { ReplayWindow } from './replay.js';

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

export interface PeerStats extends Counters {
  id: number;
  name: string | undefined;
  address: string;
  port: number;
  epoch: number | undefined;
  /** `up`: established direct link; `relay`: reached through another node; `down`: neither. */
  link: 'up' | 'relay' | 'down';
  /** Bytes waiting in the link's send queue. */
  queued: number;
}

export interface BusStats {
  frames_in: number;
  frames_out: number;
  drops: Partial<Record<DropReason, number>>;
  peers: PeerStats[];
}

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

interface Counters {
  frames_in: number;
  frames_out: number;
  bytes_in: number;
  bytes_out: number;
  relayed: number;
  connects: number;
  drops: Partial<Record<DropReason, number>>;
}

const newCounters = (): Counters => ({ frames_in: 0, frames_out: 0, bytes_in: 0, bytes_out: 0, relayed: 0, connects: 0, drops: {} });

interface Peer {
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

interface Conn {
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
  /** Frames written this event-loop turn wait for one writev (setImmediate uncorks). */
  corked: boolean;
  lastHeard: number;
  timer?: NodeJS.Timeout;
}

/** A process-unique, restart-growing epoch: µs since 1970 plus noise (fits a double exactly). */
export function newEpoch(): number {
  return Date.now() * 1000 + Math.floor(Math.random() * 1000);
}

export class ClusterBus extends EventEmitter<BusEvents> implements Bus {
  readonly selfId: number;
  readonly epoch: number;
  private readonly opts: Required<Omit<ClusterBusOptions, 'epoch' | 'clock' | 'log' | 'peers'>>;
  private readonly key: Buffer;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly peers = new Map<number, Peer>();
  private readonly conns = new Set<Conn>();
  private readonly handlers = new Map<Capability, (msg: BusMessage) => void>();
  private readonly totals = newCounters();
  private readonly configured = new Set<number>();
  private server: net.Server | undefined;
  private boundPort = 0;
  private seq = 0;
  private stopped = false;
  private warnedConflict = new Set<number>();

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
    for (const p of opts.peers) {
      if (p.id === this.selfId) continue; // one peer list for every node is fine
      this.configured.add(p.id);
      this.addPeer(p);
    }
  }

  /** Listen, then dial every known peer. Resolves with the bound port. */
  async start(): Promise<number> {
    const server = net.createServer((socket) => this.accept(socket));
    server.on('error', (err) => this.log.error({ err }, 'bus listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    for (const peer of this.peers.values()) this.scheduleDial(peer, true);
    return this.boundPort;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const peer of this.peers.values()) clearTimeout(peer.timer);
    for (const c of this.conns) {
      if (c.corked) uncork(c); // frames of this turn (a goodbye) go out before the close
      c.socket.destroy();
    }
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return this.opts.address;
  }

  /** Add (or, for a learned peer, re-address) a peer and dial it. Config entries are never overwritten. */
  addPeer(p: PeerAddress): void {
    if (p.id === this.selfId || !(p.id >= 1 && p.id <= 65535)) return;
    const known = this.peers.get(p.id);
    if (known) {
      if (!this.configured.has(p.id) && p.address && p.port && (known.address !== p.address || known.port !== p.port)) {
        known.address = p.address;
        known.port = p.port;
      }
      return;
    }
    const peer: Peer = { ...p, attempts: 0, reach: new Set(), lastHeard: 0, lastSent: 0, stats: newCounters() };
    this.peers.set(p.id, peer);
    this.emit('peer', p.id);
    if (this.server) this.scheduleDial(peer, true);
  }

  peerIds(): number[] {
    return [...this.peers.keys()].sort((a, b) => a - b);
  }

  peerInfo(id: number): { name?: string; epoch?: number; address: string; port: number; lastHeard: number; lastSent: number } | undefined {
    return this.peers.get(id);
  }

  /** How a frame to `id` would travel now. */
  route(id: number): LinkRoute | undefined {
    const peer = this.peers.get(id);
    if (!peer) return undefined;
    if (peer.link) return 'direct';
    return this.relayFor(id) ? 'relay' : undefined;
  }

  /** Peers this node has an established direct link to. */
  linked(id: number): boolean {
    return this.peers.get(id)?.link !== undefined;
  }

  /** What `via` says it reaches directly (from its heartbeats); used to pick relays. */
  setReach(via: number, ids: Iterable<number>): void {
    const peer = this.peers.get(via);
    if (peer) peer.reach = new Set(ids);
  }

  handle(capability: Capability, handler: (msg: BusMessage) => void): void {
    this.handlers.set(capability, handler);
  }

  send(dst: number, capability: Capability, type: number, payload: Uint8Array): boolean {
    if (this.stopped || dst === this.selfId) return false;
    if (dst === 0) {
      let sent = 0;
      let shared: Buffer | undefined;
      for (const peer of this.peers.values()) {
        if (peer.link) {
          shared ??= this.sign(0, capability, type, payload, 0);
          if (this.write(peer.link, peer, shared)) sent++;
        } else if (this.relayFor(peer.id)) {
          if (this.sendTo(peer, capability, type, payload)) sent++;
        }
      }
      return sent > 0;
    }
    const peer = this.peers.get(dst);
    if (!peer) {
      this.drop('no_route');
      return false;
    }
    return this.sendTo(peer, capability, type, payload);
  }

  stats(): BusStats {
    return {
      frames_in: this.totals.frames_in,
      frames_out: this.totals.frames_out,
      drops: { ...this.totals.drops },
      peers: [...this.peers.values()]
        .sort((a, b) => a.id - b.id)
        .map((p) => ({
          id: p.id,
          name: p.name,
          address: p.address,
          port: p.port,
          epoch: p.epoch,
          link: p.link ? 'up' : this.relayFor(p.id) ? 'relay' : 'down',
          frames_in: p.stats.frames_in,
          frames_out: p.stats.frames_out,
          bytes_in: p.stats.bytes_in,
          bytes_out: p.stats.bytes_out,
          relayed: p.stats.relayed,
          connects: p.stats.connects,
          drops: { ...p.stats.drops },
          queued: p.link?.socket.writableLength ?? 0,
        })),
    };
  }

  // --- sending -------------------------------------------------------------

  private sendTo(peer: Peer, capability: Capability, type: number, payload: Uint8Array): boolean {
    if (peer.link) return this.write(peer.link, peer, this.sign(peer.id, capability, type, payload, 0));
    const via = this.relayFor(peer.id);
    if (!via?.link) {
      this.drop('no_route', peer);
      return false;
    }
    const ok = this.write(via.link, via, this.sign(peer.id, capability, type, payload, 1));
    if (ok) peer.lastSent = this.clock.now();
    return ok;
  }

  private sign(dst: number, capability: Capability, type: number, payload: Uint8Array, hops: number): Buffer {
    return encodeBusFrame(this.key, { capability, type, src: this.selfId, dst, seq: ++this.seq, epoch: this.epoch, hops, payload });
  }

  private relayFor(dst: number): Peer | undefined {
    for (const p of this.peers.values()) if (p.link && p.id !== dst && p.reach.has(dst)) return p;
    return undefined;
  }

  /** Queue on a link, bounded: over the limit the frame is dropped and counted. */
  private write(conn: Conn, peer: Peer | undefined, frame: Buffer): boolean {
    if (conn.closed) {
      this.drop('no_route', peer);
      return false;
    }
    if (conn.socket.writableLength + frame.length > this.opts.sendQueueLimit) {
      this.drop('queue_full', peer);
      return false;
    }
    if (!conn.corked) {
      // One system call for every frame of this turn (a burst of datagrams read in one poll
      // forwards a burst of frames) instead of one each; the wait is the rest of this turn.
      conn.corked = true;
      conn.socket.cork();
      setImmediate(uncork, conn);
    }
    conn.socket.write(frame);
    this.totals.frames_out++;
    this.totals.bytes_out += frame.length;
    if (peer) {
      peer.stats.frames_out++;
      peer.stats.bytes_out += frame.length;
      peer.lastSent = this.clock.now();
    }
    return true;
  }

  private sendHello(conn: Conn): void {
    const payload = pb.Hello.encode({
      nodeId: this.selfId,
      name: this.opts.name,
      epoch: this.epoch,
      cluster: this.opts.cluster,
      busAddress: this.opts.address,
      busPort: this.boundPort,
    }).finish();
    this.write(conn, undefined, this.sign(conn.peerId ?? 0, 'membership', MSG_HELLO, payload, 0));
  }

  // --- connections ---------------------------------------------------------

  private scheduleDial(peer: Peer, first = false): void {
    if (this.stopped || peer.link || peer.dialing || peer.timer || !peer.port) return;
    // Lower id dials at once; the higher one waits a little so both rarely dial at the same time.
    const stagger = this.selfId > peer.id ? this.opts.reconnectMinMs * 2 : 0;
    let delay: number;
    if (first) delay = stagger;
    else {
      const base = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** Math.min(peer.attempts, 16));
      delay = stagger + base / 2 + Math.random() * (base / 2); // "equal jitter"
    }
    peer.timer = setTimeout(() => {
      peer.timer = undefined;
      this.dial(peer);
    }, delay);
    peer.timer.unref();
  }

  private dial(peer: Peer): void {
    if (this.stopped || peer.link || peer.dialing) return;
    peer.attempts++;
    const local = this.opts.address;
    const bindLocal = local !== '0.0.0.0' && local !== '::' && net.isIP(local) === net.isIP(peer.address);
    const socket = net.connect({ host: peer.address, port: peer.port, ...(bindLocal ? { localAddress: local } : {}) });
    const conn = this.track(socket, true);
    conn.peerId = peer.id;
    peer.dialing = conn;
    socket.once('connect', () => this.sendHello(conn));
  }

  private accept(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    // The acceptor answers the dialer's hello with its own, addressed to the dialer: a hello is
    // only ever valid at the node it names, so one recorded on one link cannot be replayed to another.
    this.track(socket, false);
  }

  private track(socket: net.Socket, outbound: boolean): Conn {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    const conn: Conn = {
      socket,
      outbound,
      established: false,
      closed: false,
      retired: false,
      corked: false,
      lastHeard: 0,
      reader: undefined as unknown as FrameReader,
    };
    conn.reader = new FrameReader(this.opts.maxFrameSize, (frame) => this.receive(conn, frame));
    this.conns.add(conn);
    conn.timer = setTimeout(() => {
      if (!conn.established) socket.destroy();
    }, this.opts.handshakeTimeoutMs);
    conn.timer.unref();
    socket.on('data', (chunk: Buffer) => {
      if (conn.closed) return;
      if (!conn.reader.push(chunk)) {
        // An oversized length prefix cannot be resynchronised: close this connection only.
        this.drop('oversized', this.peerOf(conn));
        this.log.warn({ peer: conn.peerId, remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'bus: oversized frame, closing connection');
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.log.debug({ err: err.message, peer: conn.peerId }, 'bus connection error'));
    socket.on('close', () => this.closed(conn));
    return conn;
  }

  private peerOf(conn: Conn): Peer | undefined {
    return conn.established && conn.peerId !== undefined ? this.peers.get(conn.peerId) : undefined;
  }

  private closed(conn: Conn): void {
    if (conn.closed) return;
    const peerOf = this.peerOf(conn);
    conn.closed = true;
    clearTimeout(conn.timer);
    this.conns.delete(conn);
    if (conn.reader.pending > 0) this.drop('truncated', peerOf);
    const peer = conn.peerId !== undefined ? this.peers.get(conn.peerId) : undefined;
    if (!peer) return;
    if (conn.retired) {
      if (peer.dialing === conn) peer.dialing = undefined;
      if (!peer.link) this.scheduleDial(peer);
      return;
    }
    if (peer.dialing === conn) peer.dialing = undefined;
    if (peer.link === conn) {
      peer.link = undefined;
      peer.reach.clear();
      this.log.info({ peer: peer.id }, 'bus link down');
      this.emit('link', peer.id, false);
    }
    if (!peer.link) this.scheduleDial(peer);
  }

  // --- receiving -----------------------------------------------------------

  private receive(conn: Conn, data: Buffer): void {
    if (conn.closed) return;
    const v = verifyFrame(this.key, data);
    const linkPeer = this.peerOf(conn);
    if (!v.ok) {
      this.drop(v.reason, linkPeer);
      return;
    }
    const f = v.frame;
    this.totals.frames_in++;
    this.totals.bytes_in += data.length;
    if (linkPeer) {
      linkPeer.stats.frames_in++;
      linkPeer.stats.bytes_in += data.length;
    }
    if (!conn.established) {
      if (f.capability === 'membership' && f.type === MSG_HELLO) this.onHello(conn, f);
      else if (f.capability === 'membership' && f.type === MSG_ID_IN_USE && f.dst === this.selfId) this.onIdInUse(f);
      else this.drop('unestablished');
      return;
    }
    const via = linkPeer!;
    if (f.dst !== 0 && f.dst !== this.selfId) {
      this.relay(via, f, data);
      return;
    }
    if (f.src === via.id) {
      if (f.epoch !== conn.peerEpoch) return this.drop(f.epoch < (conn.peerEpoch ?? 0) ? 'replay' : 'bad_src', via);
    } else if (f.src === this.selfId || f.hops !== 1) {
      return this.drop('bad_src', via);
    }
    const src = f.src === via.id ? via : this.relayedSource(f, via);
    if (!src) return;
    if (!src.replay!.accept(f.seq)) return this.drop('replay', src);
    conn.lastHeard = this.clock.now();
    src.lastHeard = conn.lastHeard;
    this.emit('heard', src.id, f.epoch);
    if (f.capability === 'membership' && f.type === MSG_HELLO) return; // a duplicate hello on a live link
    if (f.capability === 'membership' && f.type === MSG_ID_IN_USE) return this.onIdInUse(f);
    const handler = this.handlers.get(f.capability);
    if (!handler) return this.drop('no_handler', src);
    try {
      handler({ src: f.src, capability: f.capability, type: f.type, payload: f.payload });
    } catch (err) {
      this.drop('handler_error', src);
      this.log.warn({ err, capability: f.capability, type: f.type, src: f.src }, 'bus handler threw');
    }
  }

  /** A frame from a node we do not have a direct link with, relayed by `via`. */
  private relayedSource(f: Frame, via: Peer): Peer | undefined {
    let src = this.peers.get(f.src);
    if (!src) {
      this.addPeer({ id: f.src, address: '', port: 0 });
      src = this.peers.get(f.src)!;
    }
    if (src.epoch === undefined || f.epoch > src.epoch) {
      // A newer boot: accept it unless a live direct link proves the older one still holds the id.
      if (src.link && this.clock.now() - src.link.lastHeard < this.opts.liveTimeoutMs) {
        this.drop('id_conflict', via);
        return undefined;
      }
      this.adoptEpoch(src, f.epoch);
    } else if (f.epoch < src.epoch) {
      this.drop('replay', via);
      return undefined;
    }
    src.stats.frames_in++;
    return src;
  }

  private adoptEpoch(peer: Peer, epoch: number): void {
    const restart = peer.epoch !== undefined;
    peer.epoch = epoch;
    peer.replay = new ReplayWindow();
    if (restart) this.emit('restart', peer.id, epoch);
  }

  /** Forward once: only frames their source sent to us with hops = 1, only over a direct link. */
  private relay(via: Peer, f: Frame, data: Buffer): void {
    if (f.hops !== 1 || f.src !== via.id) return this.drop('bad_hops', via);
    if (f.epoch !== via.epoch) return this.drop('replay', via);
    const target = this.peers.get(f.dst);
    if (!target?.link) return this.drop('relay_no_route', via);
    if (!via.replay!.accept(f.seq)) return this.drop('replay', via);
    via.lastHeard = this.clock.now();
    this.emit('heard', via.id, f.epoch);
    if (this.write(target.link, target, data)) via.stats.relayed++;
  }

  private onHello(conn: Conn, f: Frame): void {
    let hello;
    try {
      hello = pb.Hello.decode(f.payload);
    } catch {
      return this.drop('malformed');
    }
    const id = hello.nodeId ?? 0;
    const epoch = u64(hello.epoch);
    if (id !== f.src || epoch !== f.epoch) return this.drop('malformed');
    if ((hello.cluster ?? '') !== this.opts.cluster) {
      this.drop('cluster_mismatch');
      this.log.warn({ peer: id, cluster: hello.cluster, remote: conn.socket.remoteAddress }, 'bus: hello from another cluster, closing');
      conn.socket.destroy();
      return;
    }
    if (id === this.selfId) {
      if (epoch === this.epoch) {
        conn.socket.destroy(); // our own address in the peer list
        return;
      }
      // Two live nodes with one id: the older boot keeps it.
      if (epoch > this.epoch) this.refuse(conn, id, epoch, `${this.opts.name} (this node, epoch ${this.epoch})`);
      else this.fatal(hello.name ?? '?', epoch, conn);
      return;
    }
    if (f.dst !== this.selfId) {
      this.drop('bad_dst');
      conn.socket.destroy();
      return;
    }
    if (conn.outbound && conn.peerId !== id) {
      // Dialled one node, reached another (config mistake or learned address went stale).
      this.drop('bad_src');
      this.log.warn({ expected: conn.peerId, got: id }, 'bus: dialled peer answered with another node id');
      conn.socket.destroy();
      return;
    }
    let peer = this.peers.get(id);
    if (!peer) {
      this.addPeer({ id, address: hello.busAddress ?? '', port: hello.busPort ?? 0 });
      peer = this.peers.get(id)!;
    } else if (hello.busAddress && hello.busPort) {
      this.addPeer({ id, address: hello.busAddress, port: hello.busPort }); // re-address a learned peer
    }
    if (peer.epoch !== undefined && epoch < peer.epoch) {
      this.drop('replay', peer); // an older boot of a node we know: a replay
      conn.socket.destroy();
      return;
    }
    if (peer.epoch !== undefined && epoch > peer.epoch) {
      const live = peer.link && !peer.link.closed && this.clock.now() - peer.link.lastHeard < this.opts.liveTimeoutMs;
      if (live) {
        this.refuse(conn, id, epoch, `${peer.name ?? '?'} (epoch ${peer.epoch})`);
        return;
      }
      // The node restarted: its old link (if any) is dead.
      const old = peer.link;
      if (old) {
        old.socket.destroy();
        this.closed(old);
      }
    }
    if (peer.epoch !== epoch) this.adoptEpoch(peer, epoch);
    if (!peer.replay!.accept(f.seq)) return this.drop('replay', peer);
    peer.name = hello.name || peer.name;
    conn.peerId = id;
    conn.peerEpoch = epoch;
    conn.established = true;
    conn.lastHeard = this.clock.now();
    peer.lastHeard = conn.lastHeard;
    clearTimeout(conn.timer);
    this.warnedConflict.delete(id);
    if (!conn.outbound) this.sendHello(conn);

    const current = peer.link;
    if (current && current !== conn && !current.closed) {
      // Both sides dialled: keep the connection the lower id dialled, on both ends.
      const dialer = (c: Conn) => (c.outbound ? this.selfId : id);
      const keepNew = dialer(conn) === Math.min(this.selfId, id) && dialer(current) !== dialer(conn);
      const loser = keepNew ? current : conn;
      if (keepNew) peer.link = conn;
      loser.retired = true; // its close must not take the peer's link down
      loser.socket.end();
      if (peer.dialing === loser) peer.dialing = undefined;
    } else if (!current || current.closed) {
      peer.link = conn;
      peer.attempts = 0;
      peer.stats.connects++;
      clearTimeout(peer.timer);
      peer.timer = undefined;
      this.log.info({ peer: id, name: peer.name, outbound: conn.outbound }, 'bus link up');
      this.emit('link', id, true);
    }
    if (peer.dialing === conn) peer.dialing = undefined;
    this.emit('heard', id, epoch);
  }

  /** Tell a newcomer its id is taken, loudly, and close. */
  private refuse(conn: Conn, id: number, epoch: number, holder: string): void {
    this.drop('id_conflict');
    const payload = pb.IdInUse.encode({ nodeId: id, holderName: holder, holderEpoch: this.peers.get(id)?.epoch ?? this.epoch, reason: 'node id in use' }).finish();
    const frame = encodeBusFrame(this.key, {
      capability: 'membership',
      type: MSG_ID_IN_USE,
      src: this.selfId,
      dst: id,
      seq: ++this.seq,
      epoch: this.epoch,
      hops: 0,
      payload,
    });
    if (!this.warnedConflict.has(id)) {
      this.warnedConflict.add(id);
      this.log.error({ peer: id, epoch, remote: conn.socket.remoteAddress, holder }, 'bus: refused a node claiming an id in use');
    }
    conn.retired = true;
    if (!conn.outbound) conn.peerId = undefined;
    conn.socket.end(frame);
  }

  private onIdInUse(f: Frame): void {
    let msg;
    try {
      msg = pb.IdInUse.decode(f.payload);
    } catch {
      return this.drop('malformed');
    }
    if (msg.nodeId !== this.selfId) return this.drop('malformed');
    this.fatal(msg.holderName ?? '?', u64(msg.holderEpoch), undefined, f.src);
  }

  private fatal(holder: string, holderEpoch: number, conn?: Conn, reporter?: number): void {
    if (this.stopped) return;
    const err = new BusError(
      'BUS_ID_IN_USE',
      `node id ${this.selfId} is already in use by ${holder} (epoch ${holderEpoch})${reporter ? `, reported by node ${reporter}` : ''}: refusing to join`,
    );
    this.log.error({ err: err.message }, 'bus: node id in use');
    conn?.socket.destroy();
    this.stopped = true;
    this.emit('fatal', err);
  }

  private drop(reason: DropReason, peer?: Peer): void {
    this.totals.drops[reason] = (this.totals.drops[reason] ?? 0) + 1;
    if (peer) peer.stats.drops[reason] = (peer.stats.drops[reason] ?? 0) + 1;
    this.log.debug({ reason, peer: peer?.id }, 'bus drop');
  }
}

function uncork(conn: Conn): void {
  conn.corked = false;
  conn.socket.uncork();
}
