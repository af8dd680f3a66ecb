// Ingress and Envelope.oversize: a request over transport.max_message_size gets 513 (RFC 3261
// 18.1.1, 21.5.14) on the way it came; nothing over the limit reaches the layers above.

import test from 'ava';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/core/log.js';
import { Ingress } from '../../../src/node/ingress.js';
import { ToTagKey } from '../../../src/sip/local-response.js';
import { parseMessage } from '../../../src/sip/parser.js';
import type { Destination, Envelope, SocketSpec } from '../../../src/transport/types.js';

function setup() {
  const sent: Array<{ data: string; dest: Destination }> = [];
  const drops: string[] = [];
  const out: number[] = [];
  const passed: string[] = [];
  const ingress = new Ingress({
    sender: {
      send: (data, dest) => sent.push({ data: data.toString('latin1'), dest }),
      socketFor: () => ({ id: 'udp', transport: 'udp', address: '127.0.0.1', port: 5060, role: 'anycast' }) as SocketSpec,
    },
    counters: {
      requestIn: () => {},
      responseIn: () => {},
      responseOut: (code) => out.push(code),
      parseError: () => {},
      drop: (reason) => drops.push(reason),
    },
    log: createLogger({ name: 'test', level: 'fatal', stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    toTags: new ToTagKey('ingress-test-secret'),
    next: (msg) => passed.push(msg.method),
    maxMessageSize: 2000,
  });
  return { ingress, sent, drops, out, passed };
}

const udpEnv = (oversize?: number): Envelope => ({
  transport: 'udp',
  remote: { address: '192.0.2.7', port: 40000 },
  local: { address: '127.0.0.1', port: 5060 },
  socketId: 'udp',
  receivedAt: 0,
  hops: 0,
  ...(oversize !== undefined ? { oversize } : {}),
});

function request(method: string, body: string, via = 'SIP/2.0/UDP 192.0.2.7:5062;rport;branch=z9hG4bK-big'): Buffer {
  return Buffer.from(
    `${method} sip:bob@example.com SIP/2.0\r\nVia: ${via}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n` +
      `To: <sip:bob@example.com>\r\nCall-ID: big-1\r\nCSeq: 1 ${method}\r\nContent-Type: application/sdp\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
    'latin1',
  );
}

test('udp: a request over the limit gets 513 back to its source, and goes no further', (t) => {
  const { ingress, sent, drops, out, passed } = setup();
  const data = request('INVITE', 'v'.repeat(3000));
  ingress.receive(data, udpEnv(data.length));
  t.deepEqual(passed, []);
  t.is(sent.length, 1);
  const res = parseMessage(Buffer.from(sent[0]!.data, 'latin1'));
  t.is(res.status, 513);
  t.truthy(res.toTag, 'a local response carries a To tag (RFC 3261 8.2.6.2)');
  t.is(res.reason, `Message Too Large (${data.length} bytes, max 2000)`);
  t.is(res.callId, 'big-1');
  t.is(res.topVia.branch, 'z9hG4bK-big');
  t.like(sent[0]!.dest, { transport: 'udp', address: '192.0.2.7', port: 40000, socketId: 'udp' }, 'rport: to the source port');
  t.deepEqual(drops, ['too_large']);
  t.deepEqual(out, [513]);
});

test('tcp: the header section alone (the body never read) is enough to answer 513 on the connection', (t) => {
  const { ingress, sent, out, passed } = setup();
  const whole = request('MESSAGE', 'm'.repeat(9000), 'SIP/2.0/TCP 192.0.2.7:5062;branch=z9hG4bK-tcp');
  const head = whole.subarray(0, whole.indexOf('\r\n\r\n') + 4);
  ingress.receive(head, { ...udpEnv(whole.length), transport: 'tcp', connectionId: 17 });
  t.deepEqual(passed, []);
  t.is(sent.length, 1);
  t.is(parseMessage(Buffer.from(sent[0]!.data, 'latin1')).status, 513);
  t.like(sent[0]!.dest, { transport: 'tcp', connectionId: 17 });
  t.deepEqual(out, [513]);
});

test('an over-size ACK or response is dropped, counted, never answered', (t) => {
  const { ingress, sent, drops, passed } = setup();
  const ack = request('ACK', 'a'.repeat(3000));
  ingress.receive(ack, udpEnv(ack.length));
  const res = Buffer.from(
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-x\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n' +
      `Content-Length: 3000\r\n\r\n${'r'.repeat(3000)}`,
    'latin1',
  );
  ingress.receive(res, udpEnv(res.length));
  t.deepEqual(sent, []);
  t.deepEqual(passed, []);
  t.deepEqual(drops, ['too_large', 'too_large']);
});

test('an over-size request without a usable Via is dropped as unanswerable, without throwing', (t) => {
  const { ingress, sent, drops } = setup();
  const data = request('INVITE', 'v'.repeat(3000), 'garbage');
  t.notThrows(() => ingress.receive(data, udpEnv(data.length)));
  t.deepEqual(sent, []);
  t.deepEqual(drops, ['too_large', 'unanswerable']);
});

test('a request within the limit is not touched by the size rule', (t) => {
  const { ingress, sent, passed } = setup();
  ingress.receive(request('INVITE', 'v'.repeat(100)), udpEnv());
  t.deepEqual(passed, ['INVITE']);
  t.deepEqual(sent, []);
});
