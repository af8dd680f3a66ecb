import test from 'ava';
import { SipParseError } from '../../../src/core/errors.js';
import { parseMessage } from '../../../src/sip/parser.js';

const crlf = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

const BASIC = `INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Content-Length: 0

`;

function rejects(t: import('ava').ExecutionContext, input: Buffer, message: string, status = 400) {
  const e = t.throws(() => parseMessage(input), { instanceOf: SipParseError });
  t.is(e?.message, message);
  t.is(e?.status, status);
}

test('basic request', (t) => {
  const m = parseMessage(crlf(BASIC));
  t.true(m.isRequest);
  t.is(m.method, 'INVITE');
  t.is(m.uri, 'sip:bob@biloxi.example.com');
  t.is(m.version, 'SIP/2.0');
  t.is(m.headers.length, 7);
  t.is(m.callId, '3848276298220188511@atlanta.example.com');
  t.is(m.body.length, 0);
  t.true(m.serialize().equals(crlf(BASIC)));
});

test('leading CRLFs are skipped', (t) => {
  const m = parseMessage(Buffer.concat([Buffer.from('\r\n\r\n'), crlf(BASIC)]));
  t.is(m.method, 'INVITE');
  t.true(m.serialize().equals(crlf(BASIC)));
});

test('folding: value unfolded, raw keeps the exact wire text', (t) => {
  const input = crlf(BASIC.replace('Max-Forwards: 70\n', 'Subject: I know you\'re there,\n   pick up the phone\n\t and talk to me!\nMax-Forwards: 70\n'));
  const m = parseMessage(input);
  const f = m.fields('subject')[0]!;
  t.is(f.value, "I know you're there, pick up the phone and talk to me!");
  t.is(f.raw, "Subject: I know you're there,\r\n   pick up the phone\r\n\t and talk to me!\r\n");
  t.true(m.serialize().equals(input));
});

test('compact names, odd case and whitespace before the colon', (t) => {
  const m = parseMessage(crlf('OPTIONS sip:a@b SIP/2.0\nv: SIP/2.0/UDP h;branch=z9hG4bK1\nf: <sip:x@y>;tag=1\nT : <sip:a@b>\ni:abc\nCSEQ  :  1 OPTIONS\nl: 0\nm: <sip:x@h>\n\n'));
  t.deepEqual(m.headers.map((h) => h.key), ['via', 'from', 'to', 'call-id', 'cseq', 'content-length', 'contact']);
  t.deepEqual(m.headers.map((h) => h.name), ['v', 'f', 'T', 'i', 'CSEQ', 'l', 'm']);
  t.is(m.callId, 'abc');
  t.deepEqual(m.cseq, { seq: 1, method: 'OPTIONS' });
});

test('Content-Length counts bytes of a UTF-8 body', (t) => {
  const body = 'héllo wörld ✓'; // 13 chars, 17 bytes
  const bytes = Buffer.from(body, 'utf8');
  const input = Buffer.concat([crlf(BASIC.replace('Content-Length: 0', `Content-Length: ${bytes.length}`)), bytes]);
  const m = parseMessage(input);
  t.is(m.body.length, 17);
  t.is(m.body.toString('utf8'), body);
  t.true(m.serialize().equals(input));
});

test('the body is a view of the input buffer, not a copy', (t) => {
  const input = Buffer.concat([crlf(BASIC.replace('Content-Length: 0', 'Content-Length: 4')), Buffer.from('abcd')]);
  const m = parseMessage(input);
  t.is(m.body.buffer, input.buffer);
});

test('datagram without Content-Length: body is the rest; stream: error', (t) => {
  const input = Buffer.concat([crlf(BASIC.replace('Content-Length: 0\n', '')), Buffer.from('xyz')]);
  t.is(parseMessage(input).body.toString(), 'xyz');
  const e = t.throws(() => parseMessage(input, { stream: true }), { instanceOf: SipParseError });
  t.is(e?.message, 'Missing Content-Length');
});

test('extra bytes after Content-Length are dropped (RFC 3261 18.3)', (t) => {
  const input = Buffer.concat([crlf(BASIC.replace('Content-Length: 0', 'Content-Length: 2')), Buffer.from('okEXTRA')]);
  t.is(parseMessage(input).body.toString(), 'ok');
});

test('Content-Length larger than the body: truncated', (t) => {
  rejects(t, Buffer.concat([crlf(BASIC.replace('Content-Length: 0', 'Content-Length: 10')), Buffer.from('short')]), 'Truncated body');
});

test('several Content-Length: same value accepted, different rejected', (t) => {
  const same = crlf(BASIC.replace('Content-Length: 0', 'Content-Length: 0\nl: 0'));
  t.is(parseMessage(same).body.length, 0);
  rejects(t, Buffer.concat([crlf(BASIC.replace('Content-Length: 0', 'Content-Length: 3\nl: 2')), Buffer.from('abc')]), 'Conflicting Content-Length');
});

test('LF-only line endings are tolerated', (t) => {
  const m = parseMessage(Buffer.from(BASIC));
  t.is(m.method, 'INVITE');
  t.is(m.headers.length, 7);
  t.is(m.get('cseq'), '1 INVITE');
  t.is(m.fields('to')[0]!.raw, 'To: Bob <sip:bob@biloxi.example.com>\n');
});

test('responses: reason may be empty or absent, or UTF-8', (t) => {
  const r = parseMessage(crlf('SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nContent-Length: 0\n\n'));
  t.false(r.isRequest);
  t.is(r.status, 180);
  t.is(r.reason, 'Ringing');
  t.is(parseMessage(crlf('SIP/2.0 100 \nContent-Length: 0\n\n')).reason, '');
  t.is(parseMessage(crlf('SIP/2.0 100\nContent-Length: 0\n\n')).reason, '');
  const utf = Buffer.from('SIP/2.0 200 Très bien\r\nContent-Length: 0\r\n\r\n', 'utf8');
  const m = parseMessage(utf);
  t.is(Buffer.from(m.reason, 'latin1').toString('utf8'), 'Très bien');
  t.true(m.serialize().equals(utf));
});

const BAD: Array<[string, string, number?]> = [
  ['\r\n\r\n', 'Empty message'],
  ['INVITE sip:a@b SIP/2.0\r\nVia: x\r\n', 'Missing empty line after headers'],
  ['INVITE\r\n\r\n', 'Malformed start line'],
  ['INVITE sip:a@b\r\n\r\n', 'Malformed request line'],
  ['INVITE  sip:a@b SIP/2.0\r\n\r\n', 'Extra whitespace in request line'],
  ['INVITE sip:a@b  SIP/2.0\r\n\r\n', 'Extra whitespace in request line'],
  ['INVITE sip:a@b SIP/2.0 \r\n\r\n', 'Trailing whitespace in request line'],
  ['INVITE sip:a@b; lr SIP/2.0\r\n\r\n', 'Whitespace in Request-URI'],
  ['INV<ITE sip:a@b SIP/2.0\r\n\r\n', 'Bad method'],
  ['INVITE sip:a@b SIP/7.0\r\n\r\n', 'Version Not Supported', 505],
  ['INVITE sip:a@b SIP/2.1\r\n\r\n', 'Version Not Supported', 505],
  ['INVITE sip:a@b HTTP/1.1\r\n\r\n', 'Malformed SIP version'],
  ['INVITE sip:a@b SIP/2\r\n\r\n', 'Malformed SIP version'],
  ['SIP/2.0 4294967301 big\r\n\r\n', 'Bad status code'],
  ['SIP/2.0 99 low\r\n\r\n', 'Bad status code'],
  ['SIP/2.0 700 high\r\n\r\n', 'Bad status code'],
  ['SIP/2.0 2x0 OK\r\n\r\n', 'Bad status code'],
  ['SIP/3.0 200 OK\r\n\r\n', 'Version Not Supported', 505],
  ['INVITE sip:a@b SIP/2.0\r\n folded start\r\n\r\n', 'Unexpected continuation line'],
  ['INVITE sip:a@b SIP/2.0\r\nNoColonHere\r\n\r\n', 'Malformed header line'],
  ['INVITE sip:a@b SIP/2.0\r\n: empty name\r\n\r\n', 'Malformed header line'],
  ['INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n', 'Malformed header line'],
  ['INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n', 'Bad Content-Length'],
];
for (const [i, [text, message, status]] of BAD.entries()) {
  test(`rejects #${i} ${JSON.stringify(text.slice(0, 30))}: ${message}`, (t) => {
    rejects(t, Buffer.from(text, 'latin1'), message, status ?? 400);
  });
}

test('arbitrary garbage never throws anything but SipParseError', (t) => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const base = crlf(BASIC);
  let parsed = 0;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(base);
    const flips = 1 + Math.floor(rnd() * 4);
    for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    try {
      parseMessage(b);
      parsed++;
    } catch (e) {
      if (!(e instanceof SipParseError)) t.fail(`non-SipParseError: ${String(e)}`);
    }
  }
  t.true(parsed > 0);
});
