// The in-memory IP network: phones on unicast addresses, the cluster behind
// one anycast address. Packets to the anycast address are sprayed by the
// "routers" over the nodes that announce it, per packet or per flow (a hash
// of the 5-tuple, like ECMP). Every packet may be lost, duplicated, delayed
// and thereby reordered; all of it drawn from the simulation's one PRNG.

import type { Destination, Endpoint, Envelope } from '../../src/transport/types.js';
import { keyHash } from '../../src/anycast/rendezvous.js';
import type { Prng } from './prng.js';

export const ANYCAST = '10.0.0.1';
export const SIP_PORT = 5060;

export type Spray = 'packet' | 'flow';

export interface NetOptions {
  loss: number;
  dup: number;
  /** Probability of an extra 20..100 ms delay (reordering beyond the jitter). */
  reorder: number;
  /** ms: every packet takes base + U(0, jitter). */
  baseDelay: number;
  jitter: number;
  spray: Spray;
}

export interface Host {
  receive(data: Buffer, env: Envelope): void;
}

export interface NetWorld {
  readonly prng: Prng;
  now(): number;
  at(time: number, fn: () => void): void;
  /** Deliver to node `id` if it is alive; false when it is not (the packet is lost). */
  deliverToNode(id: number, data: Buffer, env: Envelope): boolean;
}

export interface NetStats {
  packets: number;
  lost: number;
  duplicated: number;
  /** Packets the routers sent to a node that had died. */
  blackholed: number;
  toNodes: number;
}

export class SimNetwork {
  private readonly hosts = new Map<string, Host>();
  /** Nodes the routers spray the anycast address over, ascending. */
  announced: number[] = [];
  readonly stats: NetStats = { packets: 0, lost: 0, duplicated: 0, blackholed: 0, toNodes: 0 };

  constructor(
    private readonly w: NetWorld,
    private readonly o: NetOptions,
  ) {}

  attach(address: string, host: Host): void {
    this.hosts.set(address, host);
  }

  send(from: Endpoint, dest: Destination, data: Buffer): void {
    const w = this.w;
    const prng = w.prng;
    this.stats.packets++;
    if (prng.chance(this.o.loss)) {
      this.stats.lost++;
      return;
    }
    const copies = prng.chance(this.o.dup) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = this.o.baseDelay + prng.next() * this.o.jitter;
      if (prng.chance(this.o.reorder)) delay += prng.range(20, 100);
      const at = w.now() + delay;
      if (dest.address === ANYCAST) {
        const node = this.route(from, dest);
        const env: Envelope = {
          transport: 'udp',
          remote: { address: from.address, port: from.port },
          local: { address: ANYCAST, port: dest.port },
          socketId: 'anycast-udp',
          receivedAt: at,
          hops: 0,
        };
        this.stats.toNodes++;
        if (node === 0) {
          this.stats.blackholed++;
          continue;
        }
        w.at(at, () => {
          if (!w.deliverToNode(node, data, env)) this.stats.blackholed++;
        });
      } else {
        const host = this.hosts.get(dest.address);
        if (host === undefined) continue;
        const env: Envelope = {
          transport: 'udp',
          remote: { address: from.address, port: from.port },
          local: { address: dest.address, port: dest.port },
          socketId: 'ua',
          receivedAt: at,
          hops: 0,
        };
        w.at(at, () => host.receive(data, env));
      }
    }
  }

  /** The routers' choice of node for a packet to the anycast address. */
  private route(from: Endpoint, dest: Destination): number {
    const a = this.announced;
    if (a.length === 0) return 0;
    if (this.o.spray === 'packet') return a[this.w.prng.int(a.length)]!;
    return a[keyHash(`${from.address}:${from.port}>${dest.address}:${dest.port}/udp`) % a.length]!;
  }
}
