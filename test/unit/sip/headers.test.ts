import test from 'ava';
import { SipParseError } from '../../../src/core/errors.js';
import {
  formatNameAddr,
  formatParams,
  parseContentLength,
  parseCSeq,
  parseMaxForwards,
  parseNameAddr,
  parseVia,
} from '../../../src/sip/headers.js';

// ---- Via ------------------------------------------------------------------

test('Via: plain', (t) => {
  const v = parseVia('SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1');
  t.is(v.protocol, 'SIP/2.0');
  t.is(v.transport, 'UDP');
  t.is(v.host, 'pc33.atlanta.com');
  t.is(v.port, 5066);
  t.is(v.branch, 'z9hG4bK776asdhds');
  t.is(v.received, '192.0.2.1');
  t.is(v.rport, undefined);
});

test('Via: LWS around slashes, colon, semicolons and equals', (t) => {
  const v = parseVia('SIP  /   2.0 / tcp   spindle.example.com :  5070 ;  branch  =   z9hG4bK9ikj8 ; ttl = 16');
  t.is(v.transport, 'TCP');
  t.is(v.host, 'spindle.example.com');
  t.is(v.port, 5070);
  t.is(v.branch, 'z9hG4bK9ikj8');
  t.is(v.params.get('ttl'), '16');
});

test('Via: rport without value is null, with value a number', (t) => {
  t.is(parseVia('SIP/2.0/UDP h;rport;branch=z9hG4bKx').rport, null);
  t.is(parseVia('SIP/2.0/UDP h;rport=5061;branch=z9hG4bKx').rport, 5061);
});

test('Via: IPv6 sent-by and received with or without brackets', (t) => {
  const v = parseVia('SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];maddr=[2001:db8::1]');
  t.is(v.host, '[2001:db8::9:1]');
  t.is(v.port, 6050);
  t.is(v.received, '[2001:db8::9:255]');
  t.is(parseVia('SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255').received, '2001:db8::9:255');
});

test('Via: unknown transport and generic params kept, keys lowercased', (t) => {
  const v = parseVia('SIP/2.0/UNKNOWN t4.example.com;Branch=z9hG4bKa;X-Foo="a b";flag');
  t.is(v.transport, 'UNKNOWN');
  t.is(v.branch, 'z9hG4bKa');
  t.deepEqual([...v.params], [['branch', 'z9hG4bKa'], ['x-foo', '"a b"'], ['flag', null]]);
});

const BAD_VIA: Array<[string, string]> = [
  ['SIP/2.0 host', 'Bad Via protocol'],
  ['SIP/2.0/UDP', 'Missing Via sent-by'],
  ['SIP/2.0/UDPhost', 'Missing Via sent-by'],
  ['SIP/2.0/UDP 192.0.2.15;;,;,,', 'Empty parameter'],
  ['SIP/2.0/UDP host;branch', 'Empty Via branch'],
  ['SIP/2.0/UDP host;branch=', 'Empty parameter value'],
  ['SIP/2.0/UDP host:99999', 'Bad port'],
  ['SIP/2.0/UDP host;rport=x', 'Bad port'],
  ['SIP/2.0/UDP host;rport=70000', 'Bad port'],
  ['SIP/2.0/UDP host;ttl=300', 'Bad Via ttl'],
  ['SIP/2.0/UDP host junk', 'Unexpected text after value'],
  ['SIP/2.0/UDP [2001:db8::1', 'Unterminated IPv6 reference'],
];
for (const [value, reason] of BAD_VIA) {
  test(`Via rejects ${JSON.stringify(value)}`, (t) => {
    const e = t.throws(() => parseVia(value), { instanceOf: SipParseError });
    t.is(e?.message, reason);
  });
}

// ---- name-addr ------------------------------------------------------------

test('name-addr: quoted display name with escaped quotes, header params', (t) => {
  const na = parseNameAddr('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33');
  t.is(na.displayName, 'Quoted string \\"\\"');
  t.is(na.uriText, 'sip:jdrosen@example.com');
  t.is(na.uri.user, 'jdrosen');
  t.deepEqual([...na.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
});

test('name-addr: token display name, with and without space before <', (t) => {
  t.is(parseNameAddr('caller<sip:caller@example.com>;tag=323').displayName, 'caller');
  t.is(parseNameAddr("token1~` token2'+_ <sip:m@example.com>").displayName, "token1~` token2'+_");
  t.is(parseNameAddr('<sip:m@example.com>').displayName, undefined);
});

test('addr-spec: ;params after a bare URI are header params, not URI params', (t) => {
  const na = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam;tag=x');
  t.is(na.uriText, 'sip:+19725552222@gw1.example.net');
  t.is(na.uri.params.size, 0);
  t.deepEqual([...na.params], [['unknownparam', null], ['tag', 'x']]);
  const inBrackets = parseNameAddr('<sip:+19725552222@gw1.example.net;unknownparam>;tag=x');
  t.is(inBrackets.uri.params.has('unknownparam'), true);
  t.deepEqual([...inBrackets.params], [['tag', 'x']]);
});

test('addr-spec with SWS before params (RFC 4475 wsinv To)', (t) => {
  const na = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
  t.is(na.uri.host, 'chair-dnrc.example.com');
  t.is(na.params.get('tag'), '1918181833n');
});

test('Contact star', (t) => {
  const na = parseNameAddr(' * ');
  t.true(na.star);
  t.is(formatNameAddr(na), '*');
});

test('unknown schemes are fine in name-addr (RFC 4475 unksm2)', (t) => {
  t.is(parseNameAddr('<name:John_Smith>').uri.scheme, 'name');
  t.is(parseNameAddr('isbn:2983792873').uri.scheme, 'isbn');
  t.is(parseNameAddr('<http://www.example.com>;tag=3234233').params.get('tag'), '3234233');
});

test('UTF-8 display name stays as latin1 bytes and formats back byte-exact', (t) => {
  const wire = Buffer.from('"Zoë Ñandú 日本" <sip:zoe@example.com>;tag=1', 'utf8').toString('latin1');
  const na = parseNameAddr(wire);
  t.is(Buffer.from(na.displayName!, 'latin1').toString('utf8'), 'Zoë Ñandú 日本');
  t.is(formatNameAddr(na), wire);
});

test('formatNameAddr quotes a token display name and keeps param order', (t) => {
  t.is(formatNameAddr(parseNameAddr('Bob <sip:bob@b.example>;tag=a;expires=60')), '"Bob" <sip:bob@b.example>;tag=a;expires=60');
});

test('quoted param values and quoted-pairs with control chars (RFC 4475 intmeth)', (t) => {
  const na = parseNameAddr('"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:x@example.com>;p="a;b"');
  t.is(na.displayName, 'BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f');
  t.is(na.params.get('p'), '"a;b"');
});

const BAD_NA: Array<[string, string]> = [
  ['', 'Empty address'],
  ['"Mr. J. User <sip:j.user@example.com>', 'Unterminated quoted string'],
  ['Bell, Alexander <sip:a.g.bell@example.com>;tag=43', 'Bad display name'],
  ['"Watson, Thomas" < sip:t.watson@example.org >', 'Whitespace inside <>'],
  ['"A" sip:a@example.com', 'Expected < after display name'],
  ['<sip:a@example.com', 'Missing > in address'],
  ['<sip:a@example.com>x', 'Unexpected text after address'],
  ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', 'URI with ? or , must be in <>'],
  ['"Joe" <sip:joe@example.org>;;;;', 'Empty parameter'],
  ['<sip:a@example.com>;tag=', 'Empty parameter value'],
  ['"a\x01b" <sip:a@example.com>', 'Control character in quoted string'],
  ['<sip:a@%zz>', 'Bad escape in URI'],
];
for (const [value, reason] of BAD_NA) {
  test(`name-addr rejects ${JSON.stringify(value)}`, (t) => {
    const e = t.throws(() => parseNameAddr(value), { instanceOf: SipParseError });
    t.is(e?.message, reason);
  });
}

// ---- CSeq, Max-Forwards, Content-Length ------------------------------------

test('CSeq: leading zeros, LWS, extension method', (t) => {
  t.deepEqual(parseCSeq('0009 INVITE'), { seq: 9, method: 'INVITE' });
  t.deepEqual(parseCSeq('  4711\t  NEWMETHOD '), { seq: 4711, method: 'NEWMETHOD' });
  t.deepEqual(parseCSeq('2147483647 ACK'), { seq: 2 ** 31 - 1, method: 'ACK' });
});

const BAD_CSEQ: Array<[string, string]> = [
  ['INVITE', 'Bad CSeq number'],
  ['1INVITE', 'Bad CSeq'],
  ['1', 'Bad CSeq'],
  ['2147483648 INVITE', 'CSeq number too large'],
  ['36893488147419103232 REGISTER', 'CSeq number too large'],
  ['-1 INVITE', 'Bad CSeq number'],
  ['1 INVITE extra', 'Bad CSeq method'],
  ['1 IN<VITE', 'Bad CSeq method'],
];
for (const [value, reason] of BAD_CSEQ) {
  test(`CSeq rejects ${JSON.stringify(value)}`, (t) => {
    const e = t.throws(() => parseCSeq(value), { instanceOf: SipParseError });
    t.is(e?.message, reason);
  });
}

test('Max-Forwards: 0..255, leading zeros allowed', (t) => {
  t.is(parseMaxForwards('0068'), 68);
  t.is(parseMaxForwards('0'), 0);
  t.is(parseMaxForwards('255'), 255);
  for (const bad of ['256', '300', '-1', '', 'ten', '1 2']) {
    t.throws(() => parseMaxForwards(bad), { instanceOf: SipParseError, message: 'Bad Max-Forwards' });
  }
});

test('Content-Length: digits only', (t) => {
  t.is(parseContentLength(' 150 '), 150);
  t.is(parseContentLength('0'), 0);
  for (const bad of ['-999', '', '1e3', '12 3', '9999999999']) {
    t.throws(() => parseContentLength(bad), { instanceOf: SipParseError, message: 'Bad Content-Length' });
  }
});

test('formatParams', (t) => {
  t.is(formatParams(new Map([['lr', null], ['transport', 'tcp']])), ';lr;transport=tcp');
  t.is(formatParams(new Map()), '');
});
