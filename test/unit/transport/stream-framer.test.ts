import test from 'ava';
import { FramingError, MessageTooLargeError } from '../../../src/core/errors.js';
import { StreamFramer, type StreamFramerOptions } from '../../../src/transport/stream-framer.js';

function request(body: string, headers = ''): string {
  return (
    'OPTIONS sip:bob@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n' +
    'Call-ID: a84b4c76e66710\r\n' +
    headers +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
    body
  );
}

/** A framer that records what it reports: messages as strings, pings as the token 'PING'. */
function recorder(opts?: StreamFramerOptions): { framer: StreamFramer; events: string[] } {
  const events: string[] = [];
  const framer = new StreamFramer(opts);
  framer.onMessage = (m) => events.push(m.toString('latin1'));
  framer.onPing = () => events.push('PING');
  return { framer, events };
}

const A = request('v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n');
const B = request('');
const C = request('hello\r\n\r\nworld', 'Subject: body contains a blank line\r\n');

test('one message in one chunk is returned whole, sharing the chunk memory', (t) => {
  const { framer } = recorder();
  const got: Buffer[] = [];
  framer.onMessage = (m) => got.push(m);
  const chunk = Buffer.from(A, 'latin1');
  framer.push(chunk);
  t.is(got.length, 1);
  t.is(got[0]!.toString('latin1'), A);
  t.is(got[0]!.buffer, chunk.buffer, 'no copy for a message inside one chunk');
  t.is(framer.buffered, 0);
});

test('several messages, pings and single CRLFs in one chunk', (t) => {
  const { framer, events } = recorder();
  framer.push(Buffer.from('\r\n' + A + '\r\n\r\n' + B + C + '\r\n' + A, 'latin1'));
  t.deepEqual(events, [A, 'PING', B, C, A]);
});

test('a hundred messages in one chunk', (t) => {
  const { framer, events } = recorder();
  const all: string[] = [];
  for (let i = 0; i < 100; i++) all.push(request(`body ${i}`));
  framer.push(Buffer.from(all.join(''), 'latin1'));
  t.deepEqual(events, all);
});

test('a stream split at every possible byte gives the same result', (t) => {
  const stream = '\r\n\r\n' + A + B + '\r\n' + C + '\r\n\r\n';
  const expected = ['PING', A, B, C, 'PING'];
  const bytes = Buffer.from(stream, 'latin1');
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { framer, events } = recorder();
    framer.push(bytes.subarray(0, cut));
    framer.push(bytes.subarray(cut));
    t.deepEqual(events, expected, `split at ${cut}`);
  }
});

test('a stream fed one byte at a time', (t) => {
  const { framer, events } = recorder();
  const bytes = Buffer.from(A + '\r\n\r\n' + C + B, 'latin1');
  for (let i = 0; i < bytes.length; i++) framer.push(bytes.subarray(i, i + 1));
  t.deepEqual(events, [A, 'PING', C, B]);
  t.is(framer.buffered, 0);
});

test('byte-by-byte input of a large message stays linear', (t) => {
  const body = 'x'.repeat(60_000);
  const bytes = Buffer.from(request(body), 'latin1');
  const { framer, events } = recorder();
  const started = performance.now();
  for (let i = 0; i < bytes.length; i++) framer.push(bytes.subarray(i, i + 1));
  const elapsed = performance.now() - started;
  t.is(events.length, 1);
  t.is(events[0]!.length, bytes.length);
  // Quadratic re-scanning of ~61 000 bytes costs ~1.9e9 byte visits (many seconds); linear takes milliseconds.
  t.true(elapsed < 1500, `took ${elapsed.toFixed(0)} ms`);
});

test('Content-Length: compact form, any case, spaces around the colon, folded value', (t) => {
  const body = 'abcdef';
  const variants = [
    `l: ${body.length}`,
    `L:${body.length}`,
    `CONTENT-LENGTH   :   ${body.length}`,
    `content-length:\t${body.length}  `,
    `Content-Length:\r\n   ${body.length}`,
  ];
  for (const v of variants) {
    const message = `MESSAGE sip:a@b SIP/2.0\r\nCall-ID: x\r\n${v}\r\nX-After: y\r\n\r\n${body}`;
    const { framer, events } = recorder();
    framer.push(Buffer.from(message + B, 'latin1'));
    t.deepEqual(events, [message, B], JSON.stringify(v));
  }
});

test('header names that merely contain Content-Length or l are not it', (t) => {
  const message = 'MESSAGE sip:a@b SIP/2.0\r\nX-Content-Length: 99\r\nLoc: 5\r\nl: 3\r\n\r\nabc';
  const { framer, events } = recorder();
  framer.push(Buffer.from(message, 'latin1'));
  t.deepEqual(events, [message]);
});

test('missing Content-Length is a FramingError, and the framer stays broken', (t) => {
  const { framer, events } = recorder();
  const bad = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n', 'latin1');
  const err = t.throws(() => framer.push(bad), { instanceOf: FramingError });
  t.regex(err!.message, /Content-Length/);
  t.throws(() => framer.push(Buffer.from(B, 'latin1')), { instanceOf: FramingError });
  t.deepEqual(events, []);
});

test('malformed or conflicting Content-Length is a FramingError', (t) => {
  for (const h of ['Content-Length: abc', 'Content-Length: 12x', 'Content-Length:', 'l: 1\r\nContent-Length: 2']) {
    const { framer } = recorder();
    t.throws(() => framer.push(Buffer.from(`MESSAGE sip:a@b SIP/2.0\r\n${h}\r\n\r\nab`, 'latin1')), {
      instanceOf: FramingError,
    }, h);
  }
});

test('a message bigger than maxMessageSize hands up its headers alone, flagged, before its body arrives', (t) => {
  const { framer, events } = recorder({ maxMessageSize: 1000 });
  const oversize: Array<[string, number]> = [];
  framer.onOversize = (headers, size) => oversize.push([headers.toString('latin1'), size]);
  const big = request('x'.repeat(1000));
  // Only the headers: the declared length alone must be enough to refuse it.
  const headersOnly = big.slice(0, big.indexOf('\r\n\r\n') + 4);
  t.throws(() => framer.push(Buffer.from(headersOnly, 'latin1')), { instanceOf: MessageTooLargeError, message: /exceeds 1000/ });
  t.deepEqual(events, [], 'not delivered as a message');
  t.deepEqual(oversize, [[headersOnly, headersOnly.length + 1000]]);
  t.is(framer.buffered, 0, 'nothing kept');
  // Broken for good: the body bytes that follow are not taken for a new message.
  t.throws(() => framer.push(Buffer.from('x'.repeat(1000), 'latin1')), { instanceOf: MessageTooLargeError });
  t.deepEqual(events, []);
  t.is(oversize.length, 1);
});

test('over-size headers split across chunks are handed up whole, after earlier messages', (t) => {
  const { framer, events } = recorder({ maxMessageSize: 1000 });
  const oversize: string[] = [];
  framer.onOversize = (headers) => oversize.push(headers.toString('latin1'));
  const big = request('x'.repeat(2000));
  const head = big.slice(0, big.indexOf('\r\n\r\n') + 4);
  const stream = Buffer.from(B + head, 'latin1');
  const cut = B.length + 20;
  framer.push(stream.subarray(0, cut));
  t.throws(() => framer.push(stream.subarray(cut)), { instanceOf: MessageTooLargeError });
  t.deepEqual(events, [B]);
  t.deepEqual(oversize, [head]);
});

test('a huge declared Content-Length does not overflow', (t) => {
  const { framer } = recorder();
  let size = 0;
  framer.onOversize = (_headers, s) => (size = s);
  t.throws(() => framer.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nl: 99999999999999999999999999\r\n\r\n', 'latin1')), {
    instanceOf: MessageTooLargeError,
  });
  t.true(size > 65536 && Number.isSafeInteger(size));
});

test('headers that never end are cut off at maxHeaderSize, even byte by byte', (t) => {
  const { framer } = recorder({ maxHeaderSize: 256 });
  const line = Buffer.from('X-Filler: 0123456789\r\n', 'latin1');
  t.throws(
    () => {
      framer.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\n', 'latin1'));
      for (let i = 0; i < 100; i++) for (let j = 0; j < line.length; j++) framer.push(line.subarray(j, j + 1));
    },
    { instanceOf: FramingError, message: /headers exceed 256/ },
  );
  t.true(framer.buffered <= 256);
});

test('one chunk of headers over the limit is refused without being buffered', (t) => {
  const { framer } = recorder({ maxHeaderSize: 100 });
  t.throws(() => framer.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\n' + 'X: y\r\n'.repeat(50), 'latin1')), {
    instanceOf: FramingError,
  });
  t.is(framer.buffered, 0);
});

test('pings: CRLFCRLF is one ping, a lone CRLF is skipped, pings may arrive split', (t) => {
  const { framer, events } = recorder();
  framer.push(Buffer.from('\r\n', 'latin1'));
  t.deepEqual(events, []);
  framer.push(Buffer.from('\r', 'latin1'));
  framer.push(Buffer.from('\n', 'latin1'));
  t.deepEqual(events, ['PING'], 'the second CRLF completes a ping');
  framer.push(Buffer.from('\r\n\r\n\r\n\r\n', 'latin1'));
  t.deepEqual(events, ['PING', 'PING', 'PING']);
  framer.push(Buffer.from('\r\n' + B, 'latin1'));
  t.deepEqual(events, ['PING', 'PING', 'PING', B]);
});
