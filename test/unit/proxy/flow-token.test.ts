import test from 'ava';
import { FlowTokens } from '../../../src/proxy/flow-token.js';
import { parseMessage } from '../../../src/sip/parser.js';
import type { Envelope, FlowMap } from '../../../src/transport/types.js';

const SECRET = 'flow-token-test-secret-0123456789';

/** Node `self`'s view of the cluster's connections, as the anycast layer's RelaySender keeps it: stand-ins from 2^40. */
function clusterFlows(self: number): FlowMap {
  const byId = new Map<number, { node: number; connectionId: number }>();
  let next = 2 ** 40;
  return {
    holder: (id) => byId.get(id) ?? { node: self, connectionId: id },
    reach(node, connectionId) {
      if (node === self) return connectionId;
      for (const [id, r] of byId) if (r.node === node && r.connectionId === connectionId) return id;
      byId.set(next, { node, connectionId });
      return next++;
    },
  };
}

function node(self: number): FlowTokens {
  const tokens = new FlowTokens(SECRET, self);
  tokens.flows = clusterFlows(self);
  return tokens;
}

const invite = (contact: string) =>
  parseMessage(
    Buffer.from(
      'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 198.51.100.7:40001;branch=z9hG4bK1\r\n' +
        'From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ft1\r\nCSeq: 1 INVITE\r\n' +
        `Contact: <${contact}>\r\nContent-Length: 0\r\n\r\n`,
    ),
  );

const tcpEnv: Envelope = {
  transport: 'tcp',
  remote: { address: '198.51.100.7', port: 40001 },
  socketId: 'sip-tcp',
  receivedAt: 0,
  connectionId: 7,
} as Envelope;

test('a TCP token minted on one node names that node and connection; another node decodes it to its stand-in for it', (t) => {
  const n1 = node(1);
  const n3 = node(3);
  const token = n1.encode({ transport: 'tcp', address: '198.51.100.7', port: 40001, connectionId: 7 })!;
  const here = n1.decode(token)!;
  t.deepEqual(here.destination, { transport: 'tcp', address: '198.51.100.7', port: 40001, connectionId: 7, connectionOnly: true });
  const there = n3.decode(token)!;
  t.is(there.node, 1);
  t.is(there.connectionId, 7);
  t.true(there.destination.connectionId! >= 2 ** 40, 'node 3 sends on its stand-in, which relays to node 1');
  t.deepEqual(n3.flows.holder(there.destination.connectionId!), { node: 1, connectionId: 7 });
  t.true(n3.isArrival(there, { ...tcpEnv, connectionId: there.destination.connectionId }), 'a request relayed to node 3 from that connection came on it');
  t.false(n3.isArrival(there, tcpEnv), "node 3's own connection 7 is another one");
  t.false(n1.isArrival(here, { ...tcpEnv, transport: 'udp', connectionId: undefined } as Envelope), 'a UDP request came on no connection');
});

test('a token minted for a stand-in names the node that really holds the connection', (t) => {
  const n2 = node(2);
  const standIn = n2.flows.reach(1, 7);
  const token = n2.encode({ transport: 'tcp', address: '198.51.100.7', port: 40001, connectionId: standIn })!;
  const atNode1 = node(1).decode(token)!;
  t.is(atNode1.destination.connectionId, 7, 'node 1 writes on its own connection');
});

test('Record-Route tokens: the side a request came in on, and a phone reached on its connection; UDP sides get none', (t) => {
  const n1 = node(1);
  const phone = { transport: 'tcp' as const, address: '203.0.113.9', port: 5555, connectionId: 9, connectionOnly: true };
  const nated = n1.forRecordRoute(invite('sip:alice@198.51.100.7:40001;transport=tcp'), tcpEnv, phone);
  t.false(n1.decode(nated.inbound)!.dialable, 'a Contact that is the connection itself cannot be dialled');
  t.false(n1.decode(nated.outbound)!.dialable, 'a registered phone reached only over its connection');
  t.is(n1.decode(nated.outbound)!.destination.connectionId, 9);
  const trunk = n1.forRecordRoute(invite('sip:gw@198.51.100.7:5060;transport=tcp'), tcpEnv, { transport: 'udp', address: '203.0.113.1', port: 5060 });
  t.true(n1.decode(trunk.inbound)!.dialable, 'a peer listening where its Contact says can be dialled when the connection is gone');
  t.is(trunk.outbound, undefined, 'UDP has no connection to name');
  const udp = n1.forRecordRoute(invite('sip:a@198.51.100.7'), { ...tcpEnv, transport: 'udp', connectionId: undefined } as Envelope, phone);
  t.is(udp.inbound, undefined);
});

test('a forged, re-keyed or truncated token names no connection', (t) => {
  const n1 = node(1);
  const token = n1.encode({ transport: 'tcp', address: '198.51.100.7', port: 40001, connectionId: 7 })!;
  const [body, mac] = token.split('.');
  t.is(new FlowTokens('another-secret-0123456789').decode(token), undefined, 'other key');
  t.is(n1.decode(`${Buffer.from('t|1|8|198.51.100.7|40001').toString('base64url')}.${mac}`), undefined, 'another connection under the old MAC');
  t.is(n1.decode(`${Buffer.from('td|1|7|198.51.100.7|40001').toString('base64url')}.${mac}`), undefined, 'made dialable under the old MAC');
  t.is(n1.decode(body), undefined, 'no MAC');
  t.is(n1.decode('alice'), undefined, 'a plain user part');
  t.is(n1.encode({ transport: 'udp', address: '198.51.100.7', port: 5060, connectionId: 7 }), undefined, 'UDP has no flow');
});

test('a UDP caller behind NAT gets a token naming its source and socket; one that is not gets none', (t) => {
  const n1 = node(1);
  const udpEnv = { ...tcpEnv, transport: 'udp', socketId: 'anycast-udp', connectionId: undefined } as Envelope;
  const natted = parseMessage(
    Buffer.from(
      'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.5:5060;rport;branch=z9hG4bK1\r\n' +
        'From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ft2\r\nCSeq: 1 INVITE\r\n' +
        'Contact: <sip:alice@192.168.1.5:5060>\r\nContent-Length: 0\r\n\r\n',
    ),
  );
  const out = { transport: 'udp' as const, address: '203.0.113.1', port: 5060 };
  const ref = n1.decode(n1.forRecordRoute(natted, udpEnv, out).inbound)!;
  t.deepEqual(ref.destination, { transport: 'udp', address: '198.51.100.7', port: 40001, socketId: 'anycast-udp' });
  t.true(n1.isArrival(ref, udpEnv), 'the caller\'s own requests came from there');
  t.false(n1.isArrival(ref, { ...udpEnv, remote: { address: '198.51.100.7', port: 40002 } }));
  t.is(n1.forRecordRoute(invite('sip:alice@198.51.100.7:40001'), { ...udpEnv }, out).inbound, undefined, 'a caller whose Via is where it sent from');
});
