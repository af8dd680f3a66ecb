import test from 'ava';
import {
  decodeAnswer,
  decodeForward,
  decodeQuery,
  decodeRelay,
  encodeAnswer,
  encodeForward,
  encodeQuery,
  encodeRelay,
  decodeHistory,
  encodeHistory,
  FLAG_SECOND_CHANCE,
  VERDICT_HAVE,
  VERDICT_PENDING,
} from '../../../src/anycast/wire.js';
import type { Envelope } from '../../../src/transport/types.js';

const sip = Buffer.from('INVITE sip:b@x SIP/2.0\r\nContent-Length: 0\r\n\r\n', 'latin1');

test('FORWARD carries the SIP bytes and the whole envelope', (t) => {
  const env: Envelope = {
    transport: 'tcp',
    remote: { address: '2001:db8::7', port: 40123 },
    local: { address: '203.0.113.1', port: 5060 },
    socketId: 'anycast-tcp',
    connectionId: 4_000_000_000,
    receivedAt: 1_700_000_000_123.25,
    hops: 0,
  };
  const f = decodeForward(encodeForward(env, sip, FLAG_SECOND_CHANCE))!;
  t.deepEqual(f.env, env);
  t.is(f.flags, FLAG_SECOND_CHANCE);
  t.true(f.data.equals(sip));
});

test('FORWARD without a connection id decodes without one', (t) => {
  const env: Envelope = {
    transport: 'udp',
    remote: { address: '192.0.2.1', port: 5060 },
    local: { address: '10.0.0.1', port: 5060 },
    socketId: 'u',
    receivedAt: 5,
    hops: 0,
  };
  const f = decodeForward(encodeForward(env, sip, 0))!;
  t.false('connectionId' in f.env);
  t.deepEqual(f.env, env);
  t.is(f.flags, 0);
});

test('QUERY, ANSWER and RELAY round-trip', (t) => {
  const long = 'z9hG4bK' + 'x'.repeat(400) + '\x01host:5060\x01INVITE';
  t.deepEqual(decodeQuery(encodeQuery(77, ['k1', long])), { qid: 77, keys: ['k1', long] });
  t.deepEqual(decodeAnswer(encodeAnswer(0xffffffff, VERDICT_HAVE)), { qid: 0xffffffff, verdict: VERDICT_HAVE });
  t.deepEqual(decodeAnswer(encodeAnswer(3, VERDICT_PENDING)), { qid: 3, verdict: VERDICT_PENDING });
  const r = decodeRelay(encodeRelay({ transport: 'ws', address: '198.51.100.2', port: 443, connectionId: 12, socketId: 'ws' }, sip))!;
  t.deepEqual(r.dest, { transport: 'ws', address: '198.51.100.2', port: 443, connectionId: 12, socketId: 'ws' });
  t.true(r.data.equals(sip));
});

test('every truncation and a few corruptions decode to null or a value, never a throw', (t) => {
  const env: Envelope = {
    transport: 'udp',
    remote: { address: '192.0.2.1', port: 5060 },
    local: { address: '10.0.0.1', port: 5060 },
    socketId: 'anycast-udp',
    receivedAt: 1,
    hops: 0,
  };
  const samples: Array<[Buffer, (b: Uint8Array) => unknown]> = [
    [encodeForward(env, sip, 0), decodeForward],
    [encodeQuery(1, ['a', 'bb']), decodeQuery],
    [encodeAnswer(1, 0), decodeAnswer],
    [encodeRelay({ transport: 'tcp', address: '192.0.2.1', port: 1, connectionId: 1 }, sip), decodeRelay],
  ];
  for (const [buf, decode] of samples) {
    for (let len = 0; len < buf.length; len++) t.notThrows(() => decode(buf.subarray(0, len)));
    const bad = Buffer.from(buf);
    bad[0] = 9; // unknown version
    t.is(decode(bad), null);
  }
  t.is(decodeQuery(encodeQuery(1, ['a']).subarray(0, 7)), null);
  t.is(decodeAnswer(Buffer.from([1, 0, 0, 0, 1, 7])), null, 'unknown verdict');
});

test('HISTORY round-trips and rejects truncations', (t) => {
  const views = [{ remaining: 211_000, up: [1, 2, 3] }, { remaining: 5, up: [] }];
  const buf = encodeHistory(views);
  t.deepEqual(decodeHistory(buf), views);
  for (let len = 0; len < buf.length; len++) t.is(decodeHistory(buf.subarray(0, len)), null);
});
