// A few gates on an in-memory bus (the simulator's SimBus / SimMembership),
// each over a fake transaction layer that records what reached it.

import type { BusMessage, NodeState } from '../../../src/cluster/types.js';
import { silentLogger } from '../../../src/core/log.js';
import { createAnycast, type Anycast, type AnycastSettings, DEFAULT_ANYCAST } from '../../../src/anycast/index.js';
import { parseMessage } from '../../../src/sip/parser.js';
import type { SipMessage } from '../../../src/sip/message.js';
import { BranchCodec, type DecodedBranch } from '../../../src/tm/branch.js';
import { TimerWheel } from '../../../src/tm/timer-wheel.js';
import type { Destination, Envelope, Sender, SocketSpec } from '../../../src/transport/types.js';
import { SimBus, SimMembership } from '../../sim/cluster.js';

export const SECRET = 'unit-test-cluster-secret';

export class FakeTm {
  readonly got: Array<{ msg: SipMessage; env: Envelope }> = [];
  readonly keys = new Set<string>();
  constructor(readonly codec: BranchCodec) {}
  receive(msg: SipMessage, env: Envelope): void {
    this.got.push({ msg, env });
  }
  decodeBranch(branch: string | undefined): DecodedBranch | null {
    return this.codec.decode(branch);
  }
  hasServerKey(key: string): boolean {
    return this.keys.has(key);
  }
}

export class FakeTransport implements Sender {
  readonly sent: Array<{ data: Buffer; dest: Destination }> = [];
  send(data: Buffer, dest: Destination): void {
    this.sent.push({ data, dest });
  }
  socketFor(): SocketSpec {
    return { id: 'anycast-udp', transport: 'udp', address: '10.0.0.1', port: 5060, role: 'anycast' };
  }
}

export interface TestNode {
  id: number;
  anycast: Anycast;
  tm: FakeTm;
  transport: FakeTransport;
  membership: SimMembership;
  bus: SimBus;
  drops: string[];
  /** Messages re-injected by the gate (what ingress would parse and hand back). */
  reinjected: Array<{ data: Buffer; env: Envelope }>;
}

export class Cluster {
  now = 0;
  readonly nodes = new Map<number, TestNode>();
  readonly queue: Array<{ dst: number; msg: BusMessage }> = [];
  readonly wheel = new TimerWheel({ now: 0 });
  readonly clock = { now: () => this.now };

  constructor(ids: number[], settings: Partial<AnycastSettings> = {}, states?: Map<number, NodeState>) {
    this.settings = settings;
    this.initial = states ?? new Map(ids.map((id) => [id, 'up' as NodeState]));
    for (const id of ids) this.addNode(id, this.initial);
    this.flush(); // the starting nodes' view-history exchange
  }

  private readonly settings: Partial<AnycastSettings>;

  /** Start (or restart) node `id` with these member states as its first view; it asks a peer for the view history. */
  addNode(id: number, states: Map<number, NodeState>): TestNode {
    const membership = new SimMembership(id, states);
    const bus = new SimBus(id, { busSend: (src, dst, msg) => this.busSend(src, dst, msg) });
    const tm = new FakeTm(new BranchCodec(SECRET, id));
    const transport = new FakeTransport();
    const drops: string[] = [];
    const pending = { id, membership, bus };
    this.starting = pending;
    const anycast = createAnycast({
      settings: { ...DEFAULT_ANYCAST, ...this.settings },
      bus,
      membership,
      transport,
      clock: this.clock,
      wheel: this.wheel,
      log: silentLogger(),
      drop: (r) => drops.push(r),
    });
    this.starting = undefined;
    const node: TestNode = { id, anycast, tm, transport, membership, bus, drops, reinjected: [] };
    // Like ingress: parse the bytes and hand them back to the gate.
    anycast.gate.attach(tm, (data, env) => {
      node.reinjected.push({ data, env });
      anycast.gate.receive(parseMessage(data), env);
    });
    this.nodes.set(id, node);
    return node;
  }

  /** The node whose gate is being built (its first bus sends happen in the constructor). */
  private starting: { id: number; membership: SimMembership; bus: SimBus } | undefined;

  private initial: Map<number, NodeState> = new Map();

  node(id: number): TestNode {
    return this.nodes.get(id)!;
  }

  private busSend(src: number, dst: number, msg: BusMessage): boolean {
    const s = this.starting?.id === src ? this.starting : this.nodes.get(src)!;
    if (dst === 0) {
      for (const m of s.membership.members()) if (m.id !== src && m.state !== 'down') this.queue.push({ dst: m.id, msg });
      return true;
    }
    const st = s.membership.state(dst);
    if (st === undefined || st === 'down') return false;
    this.queue.push({ dst, msg });
    return true;
  }

  /** Deliver queued bus messages (and those they cause) in order; returns how many. */
  flush(filter?: (m: { dst: number; msg: BusMessage }) => boolean): number {
    let n = 0;
    while (this.queue.length > 0) {
      const m = this.queue.shift()!;
      if (filter && !filter(m)) continue;
      n++;
      this.nodes.get(m.dst)?.bus.deliver(m.msg);
    }
    return n;
  }

  /** Every node learns that `id` is now `to`. */
  change(id: number, to: NodeState): void {
    for (const n of this.nodes.values()) n.membership.apply(id, to);
  }

  advance(ms: number): void {
    this.now += ms;
    this.wheel.advance(this.now);
  }
}

export function env(remote = '192.0.2.10', port = 5060, extra: Partial<Envelope> = {}): Envelope {
  return {
    transport: 'udp',
    remote: { address: remote, port },
    local: { address: '10.0.0.1', port: 5060 },
    socketId: 'anycast-udp',
    receivedAt: 0,
    hops: 0,
    ...extra,
  };
}

let n = 0;
export function invite(callId: string, branch = `z9hG4bK-ua-${++n}`, method = 'INVITE'): SipMessage {
  return parseMessage(
    Buffer.from(
      `${method} sip:bob@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=${branch}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\n` +
        `Content-Length: 0\r\n\r\n`,
      'latin1',
    ),
  );
}

export function response(status: number, topBranch: string, callId = 'c1', method = 'INVITE'): SipMessage {
  return parseMessage(
    Buffer.from(
      `SIP/2.0 ${status} X\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=${topBranch}\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-ua\r\n` +
        `From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\n` +
        `Content-Length: 0\r\n\r\n`,
      'latin1',
    ),
  );
}
