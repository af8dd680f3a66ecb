// RFC 3261 18.1.1 in the proxy: the UDP-to-TCP switch of MtuPolicy, and 513 for what cannot be sent.

import test from 'ava';
import { MessageTooLargeError } from '../../../src/core/errors.js';
import { ProxyContext, type ContextHost, type Target } from '../../../src/proxy/context.js';
import { MAX_UDP_PAYLOAD, MtuPolicy, viaBytes, type SizedDestination } from '../../../src/proxy/mtu.js';
import { resolveLiteral } from '../../../src/proxy/resolve.js';
import { SipMessage } from '../../../src/sip/message.js';
import { buildLocalResponse, ToTagKey } from '../../../src/sip/local-response.js';
import { parseUri } from '../../../src/sip/uri.js';
import type { ClientTransaction, ServerTransaction } from '../../../src/tm/types.js';
import type { Destination, SocketSpec } from '../../../src/transport/types.js';

const UDP: SocketSpec = { id: 'udp', transport: 'udp', address: '192.0.2.10', port: 5060, role: 'anycast' };
const TCP: SocketSpec = { id: 'tcp', transport: 'tcp', address: '192.0.2.10', port: 5060, role: 'anycast' };
const CORE_UDP: SocketSpec = { id: 'core-udp', transport: 'udp', address: '10.0.0.3', port: 5060, role: 'unicast' };
const CORE_TCP: SocketSpec = { id: 'core-tcp', transport: 'tcp', address: '10.0.0.3', port: 5070, role: 'unicast' };
const V6_TCP: SocketSpec = { id: 'tcp6', transport: 'tcp', address: '2001:db8::10', port: 5060, role: 'anycast' };

function policy(sockets: SocketSpec[], threshold = 1300, max = 65535): MtuPolicy {
  const socketFor = (d: Destination): SocketSpec =>
    sockets.find((s) => s.id === d.socketId) ?? sockets.find((s) => s.transport === d.transport)!;
  return new MtuPolicy({ udp_mtu_threshold: threshold, max_message_size: max }, () => sockets, socketFor);
}

function invite(bodyBytes: number): SipMessage {
  const m = SipMessage.request('INVITE', 'sip:bob@192.0.2.20');
  m.append('Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller');
  m.append('From', '<sip:alice@example.com>;tag=a');
  m.append('To', '<sip:bob@example.com>');
  m.append('Call-ID', 'mtu-1');
  m.append('CSeq', '1 INVITE');
  m.setBody(Buffer.alloc(bodyBytes, 0x61), 'application/sdp');
  return m;
}

const udpTo = (uri: string): SizedDestination => resolveLiteral(parseUri(uri))!;

test('byteLength() is the length serialize() produces, raw and rebuilt fields alike', (t) => {
  const m = invite(321);
  m.set('Max-Forwards', '69');
  t.is(m.byteLength(), m.serialize().length);
});

test('viaBytes bounds the Via the transaction layer prepends', (t) => {
  const via = 'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK.a01234567890123456789.abcdefgh\r\n';
  t.is(viaBytes(UDP), via.length);
  t.is(viaBytes(V6_TCP), via.length - '192.0.2.10'.length + '[2001:db8::10]'.length);
});

test('a request under the threshold stays on UDP', (t) => {
  const p = policy([UDP, TCP]);
  const dest = udpTo('sip:192.0.2.20');
  const req = invite(200);
  t.is(p.fit(req, dest), dest);
  t.deepEqual(p.counts, { udp_to_tcp: 0, udp_over_threshold: 0, too_large: 0 });
});

test('over the threshold, a UDP next hop is reached over TCP at the same address and port, from the TCP socket beside', (t) => {
  const p = policy([UDP, CORE_UDP, CORE_TCP, TCP]);
  const req = invite(4000);
  t.deepEqual(p.fit(req, udpTo('sip:192.0.2.20:5080')), { transport: 'tcp', address: '192.0.2.20', port: 5080, socketId: 'tcp' });
  // On the core side, the core's TCP socket (same role), whatever its port.
  t.deepEqual(p.fit(req, { ...udpTo('sip:10.0.0.9'), socketId: 'core-udp' }), {
    transport: 'tcp', address: '10.0.0.9', port: 5060, socketId: 'core-tcp',
  });
  t.is(p.counts.udp_to_tcp, 2);
});

test('the threshold counts our Via too: a request just under it alone is switched', (t) => {
  const p = policy([UDP, TCP]);
  let body = 0;
  while (invite(body).byteLength() + viaBytes(UDP) < 1300) body++;
  const at = invite(body); // with our Via: 1300 bytes, at the threshold
  t.is(at.byteLength() + viaBytes(UDP), 1300);
  t.is(p.fit(at, udpTo('sip:192.0.2.20')).transport, 'udp');
  const over = invite(body + 1); // with our Via: 1301 bytes
  t.true(over.byteLength() < 1300);
  t.is(p.fit(over, udpTo('sip:192.0.2.20')).transport, 'tcp');
});

test('explicit transport=udp, or no TCP socket on that side: sent over UDP anyway, counted', (t) => {
  const req = invite(4000);
  const forced = udpTo('sip:192.0.2.20;transport=udp');
  t.true(forced.explicitTransport);
  t.is(policy([UDP, TCP]).fit(req, forced), forced);
  const noTcp = policy([UDP, CORE_TCP]); // TCP only on the other side
  const dest = udpTo('sip:192.0.2.20');
  t.is(noTcp.fit(req, dest), dest);
  t.is(noTcp.counts.udp_over_threshold, 1);
  t.is(noTcp.counts.udp_to_tcp, 0);
});

test('threshold 0 turns the switch off', (t) => {
  const dest = udpTo('sip:192.0.2.20');
  t.is(policy([UDP, TCP], 0).fit(invite(4000), dest), dest);
});

test('over max_message_size: MessageTooLargeError on any transport, also after a switch', (t) => {
  const p = policy([UDP, TCP], 1300, 3000);
  const err = t.throws(() => p.fit(invite(4000), udpTo('sip:192.0.2.20')), { instanceOf: MessageTooLargeError });
  t.is(err!.limit, 3000);
  t.true(err!.size > 4000);
  t.throws(() => p.fit(invite(4000), udpTo('sip:192.0.2.20;transport=tcp')), { instanceOf: MessageTooLargeError });
  t.is(p.counts.too_large, 2);
});

test('a UDP datagram cannot exceed what IP carries, whatever max_message_size allows', (t) => {
  const p = policy([UDP], 1300, 1 << 20);
  const err = t.throws(() => p.fit(invite(MAX_UDP_PAYLOAD.ipv4), udpTo('sip:192.0.2.20;transport=udp')), { instanceOf: MessageTooLargeError });
  t.is(err!.limit, MAX_UDP_PAYLOAD.ipv4);
});

test('a branch too large to send makes the context answer 513, not 500', async (t) => {
  const tags = new ToTagKey('mtu-test-secret');
  const upstream: SipMessage[] = [];
  const request = invite(10);
  const server: ServerTransaction = {
    id: 's1',
    request,
    envelope: { transport: 'udp', remote: { address: '192.0.2.1', port: 5060 }, local: { address: '192.0.2.10', port: 5060 }, socketId: 'udp', receivedAt: 0, hops: 0 },
    state: 'proceeding',
    lastResponse: undefined,
    respond: (res: SipMessage) => upstream.push(res),
    user: undefined,
  };
  const host: ContextHost = {
    forward(_ctx: ProxyContext, target: Target): ClientTransaction | Promise<ClientTransaction> {
      const err = new MessageTooLargeError('70000 bytes over udp exceeds 65507', 70000, 65507);
      if (target.socketId === 'sync') throw err;
      return Promise.reject(err);
    },
    reply: (_s, res) => upstream.push(res),
    localResponse: (req, status, opts) => buildLocalResponse(req, status, tags, opts),
    dropped: () => {},
  };
  for (const socketId of ['sync', 'async']) {
    upstream.length = 0;
    server.user = undefined;
    new ProxyContext(server, host).start([[{ socketId }]]);
    await new Promise((r) => setImmediate(r));
    t.is(upstream.length, 1, socketId);
    t.is(upstream[0]!.status, 513, socketId);
    t.truthy(upstream[0]!.toTag, socketId);
    t.is(upstream[0]!.reason, 'Message Too Large (70000 bytes, max 65507)');
  }
});
