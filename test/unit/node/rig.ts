// A real Node (ingress, tm, proxy, registrar) over an in-memory transport:
// feed it datagrams, read what it sent. No sockets, no timers.

import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/core/log.js';
import { Node, type NodeTransport } from '../../../src/node/node.js';
import type { SipMessage } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { newStats, type TransportStats } from '../../../src/transport/context.js';
import type { Destination, Envelope, SocketSpec, TransportName } from '../../../src/transport/types.js';

export const NODE_ADDRESS = '127.0.0.1';
export const NODE_PORT = 5060;

class MemoryTransport implements NodeTransport {
  onMessage: (data: Buffer, env: Envelope) => void = () => {};
  readonly sent: Array<{ data: Buffer; dest: Destination }> = [];
  private readonly specs: SocketSpec[] = [
    { id: 'udp', transport: 'udp', address: NODE_ADDRESS, port: NODE_PORT, role: 'unicast' },
    { id: 'tcp', transport: 'tcp', address: NODE_ADDRESS, port: NODE_PORT, role: 'unicast' },
  ];
  private readonly counters: TransportStats = newStats();
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  sockets(): SocketSpec[] {
    return this.specs;
  }
  stats(): TransportStats {
    return this.counters;
  }
  send(data: Buffer, dest: Destination): void {
    this.sent.push({ data, dest });
  }
  socketFor(dest: Destination): SocketSpec {
    return this.specs.find((s) => s.transport === dest.transport) ?? this.specs[0]!;
  }
}

export interface Rig {
  node: Node;
  /** Deliver bytes as if from 192.0.2.10:5062 over `transport`; returns what the node sent meanwhile. */
  receive(data: Buffer | string, transport?: TransportName): SipMessage[];
  /** Raw bytes the node sent in answer to the last receive. */
  lastRaw: Buffer[];
  stop(): Promise<void>;
}

export async function startRig(extraYaml = '', secret = 'rig-branch-secret-0123456789'): Promise<Rig> {
  const yaml = `
node: { id: 3, branch_secret: ${secret} }
listen:
  - { id: udp, transport: udp, address: ${NODE_ADDRESS}, port: ${NODE_PORT} }
proxy: { domains: [example.com] }
routes:
  - match: { user_prefix: loop }
    targets: ["sip:${NODE_ADDRESS}:${NODE_PORT}"]
admin: { enabled: false }
${extraYaml}`;
  const transport = new MemoryTransport();
  const node = new Node(parseConfig(yaml, 'rig.yaml'), { log: silentLogger(), transport, realTimers: false });
  await node.start();
  const rig: Rig = {
    node,
    lastRaw: [],
    receive(data, via = 'udp') {
      const from = transport.sent.length;
      const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
      const env: Envelope = {
        transport: via,
        remote: { address: '192.0.2.10', port: 5062 },
        local: { address: NODE_ADDRESS, port: NODE_PORT },
        socketId: via,
        connectionId: via === 'udp' ? undefined : 1,
        receivedAt: 0,
        hops: 0,
      };
      transport.onMessage(buf, env);
      rig.lastRaw = transport.sent.slice(from).map((s) => s.data);
      return rig.lastRaw.map((d) => parseMessage(d));
    },
    stop: () => node.stop(),
  };
  return rig;
}

/** A request with the usual headers; `over` replaces (or, with null, removes) header values. */
export function sipRequest(
  method: string,
  uri: string,
  over: Record<string, string | null> = {},
  extra: string[] = [],
): string {
  const headers: Record<string, string | null> = {
    Via: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-rig-1',
    From: '<sip:alice@example.com>;tag=from-1',
    To: '<sip:bob@example.com>',
    'Call-ID': 'rig-call-1',
    CSeq: `1 ${method}`,
    'Max-Forwards': '70',
    'Content-Length': '0',
    ...over,
  };
  const lines = [`${method} ${uri} SIP/2.0`];
  for (const [k, v] of Object.entries(headers)) if (v !== null) lines.push(`${k}: ${v}`);
  return [...lines, ...extra, '', ''].join('\r\n');
}
