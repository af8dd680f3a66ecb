// Connections: who dials (the lower id at once, the higher after a stagger),
// reconnect with exponential backoff and equal jitter, accepting, the
// handshake deadline, and what a closed connection does to its peer's link.

import net from 'node:net';
import { FrameReader } from './frame.js';
import { BusBase, type Conn, type Peer } from './link.js';

export abstract class BusDialer extends BusBase {
  /** A frame read from a connection (handshake.ts, bus.ts). */
  protected abstract receive(conn: Conn, data: Buffer): void;
  /** Our hello on a connection (handshake.ts). */
  protected abstract sendHello(conn: Conn): void;

  protected scheduleDial(peer: Peer, first = false): void {
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

  protected accept(socket: net.Socket): void {
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

  protected closed(conn: Conn): void {
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
}
