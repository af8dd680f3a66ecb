// The cluster bus: one authenticated TCP link per pair of nodes, carrying
// length-delimited protobuf frames (frame.ts) between their unicast bus
// addresses. Links are (re)dialled with exponential backoff and jitter, each
// has a bounded send queue, and a frame whose direct link is down is relayed
// once through a node that reaches the destination.
//
// Nothing a peer (or anyone who can reach the port) sends may throw out of
// here, crash the node or stall another link: every bad frame is a counted drop.
//
// By concern: link.ts (state, sign, bounded write, drops), batcher.ts (write
// coalescing), dialer.ts (connections), handshake.ts (hello, id in use),
// relay.ts (one relay hop), replay.ts (anti-replay window), stats.ts
// (counters); this file is the API and the receive path.

import net from 'node:net';
import { flush } from './batcher.js';
import { verifyFrame } from './frame.js';
import { MSG_HELLO, MSG_ID_IN_USE, type Conn, type Peer, type PeerAddress, type ClusterBusOptions, type LinkRoute } from './link.js';
import { BusRelay } from './relay.js';
import { countIn, newCounters, snapshot, type BusStats } from './stats.js';
import type { Bus, BusMessage, Capability } from './types.js';

export { MSG_HEARTBEAT, MSG_HELLO, MSG_ID_IN_USE, newEpoch, type BusEvents, type ClusterBusOptions, type LinkRoute, type PeerAddress } from './link.js';
export type { BusStats, PeerStats } from './stats.js';

export class ClusterBus extends BusRelay implements Bus {
  private readonly configured = new Set<number>();

  constructor(opts: ClusterBusOptions) {
    super(opts);
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
      flush(c); // frames of this turn (a goodbye) go out before the close
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
    return snapshot(
      this.totals,
      this.peers.values(),
      (p) => ((p as Peer).link ? 'up' : this.relayFor(p.id) ? 'relay' : 'down'),
      (p) => (p as Peer).link?.socket.writableLength ?? 0,
    );
  }

  // --- receiving -----------------------------------------------------------

  protected receive(conn: Conn, data: Buffer): void {
    if (conn.closed) return;
    const v = verifyFrame(this.key, data);
    const linkPeer = this.peerOf(conn);
    if (!v.ok) {
      this.drop(v.reason, linkPeer);
      return;
    }
    const f = v.frame;
    countIn(this.totals, linkPeer?.stats, data.length);
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
}
