// NAT keep-alives: a CRLF CRLF (RFC 5626 3.5.1), or an OPTIONS request (what
// nathelper's sipping does: it also passes SIP-aware middleboxes and gets an
// answer), to every binding whose pinhole must stay open, every `interval`
// seconds, sent by exactly one node.
// A UDP binding's duty is the rendezvous owner of its key over the `up` nodes,
// so when that node leaves, the next one in rendezvous order takes it over with
// the replica it already holds; a TCP/WS binding's is the node that holds its
// connection (no other node can write on it). Unlike OpenSIPS#1372 and
// kamailio#1299, a cluster of N nodes sends one keep-alive per binding, not N.

import type { Clock } from '../core/clock.js';
import type { SipMessage } from '../sip/message.js';
import { formatEndpoint } from '../transport/address.js';
import type { Destination, Sender } from '../transport/types.js';
import type { Binding } from './binding.js';
import type { LocationService } from './location.js';

export interface KeepaliveSettings {
  /** Seconds between keep-alives to one binding; 0: none. */
  interval: number;
  /** Only bindings reached through a flow (destinationOf says so); false: every binding. */
  nated_only: boolean;
  /** CRLF CRLF, or OPTIONS (default CRLF). */
  method?: 'crlf' | 'options';
}

export interface KeepaliveCounters {
  keepalives_sent: number;
  keepalives_failed: number;
  /** Answers to OPTIONS keep-alives, counted on whichever node the answer reached. */
  keepalives_answered: number;
}

const PING = Buffer.from('\r\n\r\n');
/** Every OPTIONS keep-alive's Call-ID starts so: its answer, which matches no transaction, is recognised on any node. */
const CALL_ID_PREFIX = 'anysip-ka-';
/** Bindings looked at per event-loop turn, so a million of them never stall the node. */
const SLICE = 5000;

export class Keepalives {
  readonly counters: KeepaliveCounters = { keepalives_sent: 0, keepalives_failed: 0, keepalives_answered: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private seq = 0;

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
        const data = this.settings.method === 'options' ? this.options(b, to) : PING;
        this.sender.send(data, to, () => this.counters.keepalives_failed++);
        this.counters.keepalives_sent++;
        sent++;
      }
    } finally {
      this.running = false;
    }
    return sent;
  }

  /** An answer to one of our OPTIONS keep-alives (any node's): counted, and nothing more to do with it. */
  claim(res: SipMessage): boolean {
    if (!res.callId.startsWith(CALL_ID_PREFIX) || res.cseq.method !== 'OPTIONS') return false;
    this.counters.keepalives_answered++;
    return true;
  }

  /**
   * OPTIONS to the binding's Contact, with a Via naming the socket it leaves from (the anycast
   * address for UDP, so the answer comes back to the cluster) and a branch no transaction of ours
   * has: whichever node the answer reaches absorbs it (claim).
   */
  private options(b: Binding, to: Destination): Buffer {
    const sock = this.sender.socketFor(to);
    const sentBy = formatEndpoint(sock.advertise ?? sock.address, sock.port);
    const id = `${this.location.selfId}-${(++this.seq).toString(36)}`;
    return Buffer.from(
      `OPTIONS ${b.contact} SIP/2.0\r\n` +
        `Via: SIP/2.0/${to.transport.toUpperCase()} ${sentBy};branch=z9hG4bK-${CALL_ID_PREFIX}${id};rport\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:keepalive@${sentBy}>;tag=${CALL_ID_PREFIX}${this.location.selfId}\r\n` +
        `To: <${b.contact}>\r\nCall-ID: ${CALL_ID_PREFIX}${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
      'utf8',
    );
  }
}
