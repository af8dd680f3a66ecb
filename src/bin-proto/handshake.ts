// The handshake: hellos (checked, answered, epoch adopted), crossed dials
// (keep the connection the lower id dialled), node ids in use (the older boot
// keeps the id; the newcomer gets IdInUse and its bus goes fatal).

import { BusError } from '../core/errors.js';
import { BusDialer } from './dialer.js';
import { type Frame, encodeBusFrame } from './frame.js';
import { type Conn, MSG_HELLO, MSG_ID_IN_USE, type Peer } from './link.js';
import { pb, u64 } from './proto.js';
import { ReplayWindow } from './replay.js';

export abstract class BusHandshake extends BusDialer {
  private readonly warnedConflict = new Set<number>();

  protected sendHello(conn: Conn): void {
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

  /** A new boot of `peer`: a fresh anti-replay window. */
  protected adoptEpoch(peer: Peer, epoch: number): void {
    const restart = peer.epoch !== undefined;
    peer.epoch = epoch;
    peer.replay = new ReplayWindow();
    if (restart) this.emit('restart', peer.id, epoch);
  }

  protected onHello(conn: Conn, f: Frame): void {
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
    this.establish(peer, conn);
    if (peer.dialing === conn) peer.dialing = undefined;
    this.emit('heard', id, epoch);
  }

  /** The connection becomes the peer's link, or, when both dialled, one of the two is retired. */
  private establish(peer: Peer, conn: Conn): void {
    const id = peer.id;
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

  protected onIdInUse(f: Frame): void {
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
}
