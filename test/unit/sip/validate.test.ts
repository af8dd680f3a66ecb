import test from 'ava';
import { parseMessage } from '../../../src/sip/parser.js';
import { isRfc1123Gmt, validateRequest, validateResponse } from '../../../src/sip/validate.js';

const REQ = `OPTIONS sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 OPTIONS
Content-Length: 0

`;
const msg = (s: string) => parseMessage(Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1'));
const check = (s: string) => validateRequest(msg(s));

test('a well-formed request passes', (t) => {
  t.is(check(REQ), null);
});

test('tel and sips Request-URIs are supported; others get 416', (t) => {
  t.is(check(REQ.replace('sip:bob@biloxi.example.com SIP', 'tel:+15551234 SIP')), null);
  t.is(check(REQ.replace('sip:bob@biloxi.example.com SIP', 'sips:bob@biloxi.example.com SIP')), null);
  t.deepEqual(check(REQ.replace('sip:bob@biloxi.example.com SIP', 'mailto:bob@biloxi.example.com SIP')), {
    status: 416,
    reason: 'Unsupported URI Scheme',
  });
});

test('missing and duplicated mandatory headers', (t) => {
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    const without = REQ.split('\n').filter((l) => !l.startsWith(name + ':')).join('\n');
    t.deepEqual(check(without), { status: 400, reason: `Missing ${name} header` }, name);
  }
  t.deepEqual(check(REQ.replace('Call-ID: ', 'Call-ID: other\nCall-ID: ')), { status: 400, reason: 'Multiple Call-ID headers' });
  t.deepEqual(check(REQ.replace('Max-Forwards: 70', 'Max-Forwards: 70\nMax-Forwards: 69')), {
    status: 400,
    reason: 'Multiple Max-Forwards headers',
  });
  // Several Via fields are normal.
  t.is(check(REQ.replace('Max-Forwards', 'Via: SIP/2.0/TCP h2;branch=z9hG4bKb\nMax-Forwards')), null);
});

test('Max-Forwards is optional but must be valid when present', (t) => {
  t.is(check(REQ.replace('Max-Forwards: 70\n', '')), null);
  t.deepEqual(check(REQ.replace('Max-Forwards: 70', 'Max-Forwards: 256')), {
    status: 400,
    reason: 'Bad Max-Forwards header: Bad Max-Forwards',
  });
});

test('Contact: each value parsed; * only alone', (t) => {
  t.is(check(REQ.replace('Content-Length', 'Contact: <sip:a@h1>, "B" <sip:b@h2>;q=0.5\nContent-Length')), null);
  t.deepEqual(check(REQ.replace('Content-Length', 'Contact: *, <sip:a@h1>\nContent-Length')), {
    status: 400,
    reason: 'Bad Contact header: * with other values',
  });
  t.deepEqual(check(REQ.replace('Content-Length', 'Contact: <sip:a@h1\nContent-Length')), {
    status: 400,
    reason: 'Bad Contact header: Missing > in address',
  });
});

test('Call-ID with whitespace or non-ASCII is rejected', (t) => {
  t.deepEqual(check(REQ.replace('Call-ID: ', 'Call-ID: a b')), { status: 400, reason: 'Bad Call-ID header' });
  t.deepEqual(check(REQ.replace('Call-ID: ', 'Call-ID: \xe9')), { status: 400, reason: 'Bad Call-ID header' });
});

test('CSeq method mismatch: 400 for known methods, 501 for unknown', (t) => {
  t.deepEqual(check(REQ.replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE')), { status: 400, reason: 'CSeq method mismatch' });
  const unknown = REQ.replace('OPTIONS sip', 'FOO sip');
  t.deepEqual(check(unknown), { status: 501, reason: 'CSeq method mismatch' });
  t.is(check(unknown.replace('CSeq: 1 OPTIONS', 'CSeq: 1 FOO')), null);
});

test('From/To must not be *', (t) => {
  t.deepEqual(check(REQ.replace(/^To: .*$/m, 'To: *')), { status: 400, reason: 'Bad To header: * not allowed' });
});

test('Date must be an RFC 1123 GMT date', (t) => {
  t.true(isRfc1123Gmt('Sat, 13 Nov 2010 23:29:00 GMT'));
  t.false(isRfc1123Gmt('Fri, 01 Jan 2010 16:00:00 EST'));
  t.false(isRfc1123Gmt('Sat, 13 Nov 2010 23:29:00  GMT'));
  t.false(isRfc1123Gmt('Xyz, 13 Nov 2010 23:29:00 GMT'));
  t.is(check(REQ.replace('Content-Length', 'Date: Sat, 13 Nov 2010 23:29:00 GMT\nContent-Length')), null);
});

test('responses: mandatory headers and CSeq checked', (t) => {
  const ok = msg(`SIP/2.0 200 OK
Via: SIP/2.0/UDP h;branch=z9hG4bK1
From: <sip:a@b>;tag=1
To: <sip:c@d>;tag=2
Call-ID: x
CSeq: 1 OPTIONS
Content-Length: 0

`);
  t.is(validateResponse(ok), null);
  t.is(ok.method, 'OPTIONS');
  const noVia = msg('SIP/2.0 200 OK\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x\nCSeq: 1 OPTIONS\n\n');
  t.deepEqual(validateResponse(noVia), { status: 400, reason: 'Missing Via header' });
});

test('validate never throws on mangled messages', (t) => {
  let seed = 777;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const base = Buffer.from(REQ.replace(/\n/g, '\r\n'));
  let validated = 0;
  let clean = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(base);
    for (let f = 0; f < 3; f++) b[Math.floor(rnd() * b.length)] = [0x20, 0x3b, 0x3c, 0x22, 0x3a, 0x2c, 0x25, Math.floor(rnd() * 256)][Math.floor(rnd() * 8)]!;
    let m;
    try {
      m = parseMessage(b);
    } catch {
      continue;
    }
    const r = validateRequest(m);
    validated++;
    if (r === null) {
      clean++;
      // A clean message's parsed views are all usable.
      t.notThrows(() => [m.vias, m.from, m.to, m.cseq, m.callId]);
    } else {
      t.regex(r.reason, /^[\x20-\x7e]+$/);
    }
  }
  t.true(validated > 100);
  t.true(clean > 0);
});
