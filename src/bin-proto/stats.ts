// Bus statistics: per peer and in total, for /status (`cluster.peers[]`,
// `cluster.drops`) and Prometheus (src/cluster/cluster.ts).

import type { DropReason } from './frame.js';

export interface Counters {
  frames_in: number;
  frames_out: number;
  bytes_in: number;
  bytes_out: number;
  relayed: number;
  connects: number;
  drops: Partial<Record<DropReason, number>>;
}

export const newCounters = (): Counters => ({ frames_in: 0, frames_out: 0, bytes_in: 0, bytes_out: 0, relayed: 0, connects: 0, drops: {} });

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

/** Count a drop in the totals and, when the frame is attributed to a peer, in its counters. */
export function countDrop(totals: Counters, peer: Counters | undefined, reason: DropReason): void {
  totals.drops[reason] = (totals.drops[reason] ?? 0) + 1;
  if (peer) peer.drops[reason] = (peer.drops[reason] ?? 0) + 1;
}

/** Count a frame written (totals and the peer it went to). */
export function countOut(totals: Counters, peer: Counters | undefined, bytes: number): void {
  totals.frames_out++;
  totals.bytes_out += bytes;
  if (peer) {
    peer.frames_out++;
    peer.bytes_out += bytes;
  }
}

/** Count an authenticated frame read (totals and the peer of the link it came on). */
export function countIn(totals: Counters, peer: Counters | undefined, bytes: number): void {
  totals.frames_in++;
  totals.bytes_in += bytes;
  if (peer) {
    peer.frames_in++;
    peer.bytes_in += bytes;
  }
}

export interface PeerView {
  id: number;
  name?: string;
  address: string;
  port: number;
  epoch?: number;
  stats: Counters;
}

/** The snapshot: totals, and every peer by id with how it is reached and what it has queued. */
export function snapshot(totals: Counters, peers: Iterable<PeerView>, link: (p: PeerView) => PeerStats['link'], queued: (p: PeerView) => number): BusStats {
  return {
    frames_in: totals.frames_in,
    frames_out: totals.frames_out,
    drops: { ...totals.drops },
    peers: [...peers]
      .sort((a, b) => a.id - b.id)
      .map((p) => ({
        id: p.id,
        name: p.name,
        address: p.address,
        port: p.port,
        epoch: p.epoch,
        link: link(p),
        frames_in: p.stats.frames_in,
        frames_out: p.stats.frames_out,
        bytes_in: p.stats.bytes_in,
        bytes_out: p.stats.bytes_out,
        relayed: p.stats.relayed,
        connects: p.stats.connects,
        drops: { ...p.stats.drops },
        queued: queued(p),
      })),
  };
}
