// NAT keep-alives: a CRLF CRLF (RFC 5626 3.5.1) to every binding whose
// pinhole must stay open, every `interval` seconds, sent by exactly one node.
// A UDP binding's duty is the rendezvous owner of its key over the `up` nodes,
// so when that node leaves, the next one in rendezvous order takes it over with
// the replica it already holds; a TCP/WS binding's is the node that holds its
// connection (no other node can write on it). Unlike OpenSIPS#1372 and
// kamailio#1299, a cluster of N nodes sends one keep-alive per binding, not N.

import type { Clock } from '../core/clock.js';
import type { Sender } from '../transport/types.js';
import type { LocationService } from './location.js';

export interface KeepaliveSettings {
  /** Seconds between keep-alives to one binding; 0: none. */
  interval: number;
  /** Only bindings reached through a flow (destinationOf says so); false: every binding. */
  nated_only: boolean;
}

export interface KeepaliveCounters {
  keepalives_sent: number;
  keepalives_failed: number;
}

const PING = Buffer.from('\r\n\r\n');
/** Bindings looked at per event-loop turn, so a million of them never stall the node. */
const SLICE = 5000;

export class Keepalives {
  readonly counters: KeepaliveCounters = { keepalives_sent: 0, keepalives_failed: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly location: LocationService,
    private readonly settings: KeepaliveSettings,
    private readonly sender: Sender,
    /** This node holds the duty for the record `key` (the rendezvous owner over the up nodes). */
    private readonly isMine: (key: string) => boolean,
    private readonly clock: Clock,
  ) {}

  start(): void {
    if (this.settings.interval <= 0) return;
    this.timer = setInterval(() => void this.round(), this.settings.interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass over the table, in slices. Resolves with the keep-alives sent. */
  async round(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let sent = 0;
    try {
      let n = 0;
      const self = this.location.selfId;
      for (const r of this.location.table.entries(this.clock.now())) {
        if (++n % SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
        const b = r.value;
        const dest = this.location.destinationOf(b);
        if (!dest && this.settings.nated_only) continue;
        const stream = b.source.transport !== 'udp';
        if (stream ? b.source.node !== self : !this.isMine(r.key)) continue;
        const to = dest ?? { transport: b.source.transport, address: b.source.address, port: b.source.port, ...(b.source.socketId ? { socketId: b.source.socketId } : {}) };
        // A stream keep-alive goes only on the binding's own connection, never on a new one.
        if (stream && to.connectionId === undefined) continue;
        this.sender.send(PING, to, () => this.counters.keepalives_failed++);
        this.counters.keepalives_sent++;
        sent++;
      }
    } finally {
      this.running = false;
    }
    return sent;
  }
}
