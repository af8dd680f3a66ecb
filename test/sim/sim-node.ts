// One simulated node: a real anysip Node whose transport is the simulated network.

import type { SimBus, SimMembership } from './cluster.js';
import type { Node, NodeTransport } from '../../src/node/node.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { ReplicaScheduler } from '../../src/replica/types.js';
import type { TimerWheel } from '../../src/tm/timer-wheel.js';
import type { Destination, Envelope, SocketSpec } from '../../src/transport/types.js';
import { newStats, type TransportStats } from '../../src/transport/context.js';
import { ANYCAST, SIP_PORT, type SimNetwork } from './network.js';

/** A node incarnation and the simulated pieces around it. */
export interface Runtime {
  id: number;
  incarnation: number;
  alive: boolean;
  node: Node;
  membership: SimMembership;
  bus: SimBus;
  transport: SimNodeTransport;
  /** Latest time a membership update is queued for (per-node FIFO). */
  memLast: number;
  /** The node's replicators' timers, on the virtual clock (advanced with the node's wheel, stopped by a kill). */
  replicaWheel: TimerWheel;
}

/** A ReplicaScheduler on a virtual-clock wheel. */
export function wheelScheduler(wheel: TimerWheel): ReplicaScheduler {
  return {
    after(ms, fn) {
      const h = wheel.schedule(ms, { onTimer: fn }, 0);
      return () => wheel.cancel(h);
    },
  };
}

/** The node's transport: its one anycast UDP socket, on the simulated network. */
export class SimNodeTransport implements NodeTransport {
  onMessage: (data: Buffer, env: Envelope) => void = () => {};
  alive = true;
  private readonly spec: SocketSpec = { id: 'anycast-udp', transport: 'udp', address: ANYCAST, port: SIP_PORT, role: 'anycast' };
  private readonly counters: TransportStats = newStats();

  constructor(
    private readonly net: SimNetwork,
    /** Sees every datagram the node sends (the simulator learns its client transactions from them). */
    private readonly onSend: (data: Buffer) => void = () => {},
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  sockets(): SocketSpec[] {
    return [this.spec];
  }
  stats(): TransportStats {
    return this.counters;
  }
  send(data: Buffer, dest: Destination): void {
    if (!this.alive) return;
    this.counters.udpOut++;
    this.onSend(data);
    this.net.send({ address: ANYCAST, port: SIP_PORT }, dest, data);
  }
  socketFor(): SocketSpec {
    return this.spec;
  }
}

/** A message in one line, for violations and traces. */
export function describe(msg: SipMessage): string {
  try {
    return msg.isRequest ? `${msg.method} ${msg.callId} cseq ${msg.cseq.seq}` : `${msg.status} ${msg.cseq.method} ${msg.callId}`;
  } catch {
    return msg.isRequest ? msg.method : String(msg.status);
  }
}
