import test from 'ava';
import { stampTopVia } from '../../../src/node/via-stamp.js';
import { SipMessage } from '../../../src/sip/message.js';
import type { Envelope } from '../../../src/transport/types.js';

const env = (address: string, port: number): Envelope => ({
  transport: 'udp',
  remote: { address, port },
  local: { address: '127.0.0.1', port: 5060 },
  socketId: 'udp',
  receivedAt: 0,
  hops: 0,
});

function withVias(...vias: string[]): SipMessage {
  const m = SipMessage.request('INVITE', 'sip:a@b');
  m.append('Via', vias.join(', '));
  return m;
}

test('received is added when the sent-by host is not the source address (RFC 3261 18.2.1)', (t) => {
  const m = withVias('SIP/2.0/UDP phone.example.com:5062;branch=z9hG4bK1', 'SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK0');
  stampTopVia(m, env('192.0.2.7', 5062));
  t.is(m.topVia.received, '192.0.2.7');
  t.is(m.vias.length, 2, 'the second Via on the same line is kept');
  t.is(m.vias[1]!.host, '10.0.0.9');
});

test('nothing changes when the sent-by host is the source and there is no rport', (t) => {
  const m = withVias('SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK1');
  const before = m.headers[0]!;
  stampTopVia(m, env('192.0.2.7', 5062));
  t.is(m.headers[0], before, 'field untouched: still emitted byte for byte');
});

test('an empty rport gets the source port, and received even when equal (RFC 3581 4)', (t) => {
  const m = withVias('SIP/2.0/UDP 192.0.2.7:5062;rport;branch=z9hG4bK1');
  stampTopVia(m, env('192.0.2.7', 40123));
  t.is(m.topVia.rport, 40123);
  t.is(m.topVia.received, '192.0.2.7');
  t.is(m.topVia.branch, 'z9hG4bK1');
});

test('IPv6 sent-by in brackets equals the bare source address', (t) => {
  const m = withVias('SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bK1');
  stampTopVia(m, env('2001:db8::7', 5062));
  t.is(m.topVia.received, undefined);
});
