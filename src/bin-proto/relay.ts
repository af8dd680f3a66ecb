// Relay: with no direct link to the destination a frame is signed with
// hops = 1 and sent through a peer that reaches it; a relaying node forwards
// only frames their source sent it directly, over a direct link only, so a
// frame makes one relay hop at most. A relayed source's boot (epoch) and
// anti-replay window are kept here too.

import type { Frame } from './frame.js';
import { BusHandshake } from './handshake.js';
import type { Peer } from './link.js';
import type { Capability } from './types.js';

export abstract class BusRelay extends BusHandshake {
  /** Directly when linked, else once through a relay; false (counted) when neither. */
  protected sendTo(peer: Peer, capability: Capability, type: number, payload: Uint8Array): boolean {
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

  /** Forward once: only frames their source sent to us with hops = 1, only over a direct link. */
  protected relay(via: Peer, f: Frame, data: Buffer): void {
    if (f.hops !== 1 || f.src !== via.id) return this.drop('bad_hops', via);
    if (f.epoch !== via.epoch) return this.drop('replay', via);
    const target = this.peers.get(f.dst);
    if (!target?.link) return this.drop('relay_no_route', via);
    if (!via.replay!.accept(f.seq)) return this.drop('replay', via);
    via.lastHeard = this.clock.now();
    this.emit('heard', via.id, f.epoch);
    if (this.write(target.link, target, data)) via.stats.relayed++;
  }

  /** A frame from a node we do not have a direct link with, relayed by `via`. */
  protected relayedSource(f: Frame, via: Peer): Peer | undefined {
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
}
