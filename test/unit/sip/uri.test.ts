import test from 'ava';
import { SipParseError } from '../../../src/core/errors.js';
import { formatUri, parseUri, parseUriShared, unescapeUser, uriEquals } from '../../../src/sip/uri.js';

test('sip URI with user, password, port, params and headers', (t) => {
  const u = parseUri('sip:alice:secret@Example.COM:5070;Transport=TCP;lr;maddr=10.0.0.1?Subject=hi&Priority=urgent');
  t.is(u.scheme, 'sip');
  t.is(u.user, 'alice');
  t.is(u.password, 'secret');
  t.is(u.host, 'Example.COM');
  t.is(u.port, 5070);
  t.deepEqual([...u.params], [['transport', 'TCP'], ['lr', null], ['maddr', '10.0.0.1']]);
  t.deepEqual(u.headers, [['Subject', 'hi'], ['Priority', 'urgent']]);
  t.is(formatUri(u), 'sip:alice:secret@Example.COM:5070;transport=TCP;lr;maddr=10.0.0.1?Subject=hi&Priority=urgent');
});

test('host-only sips URI and uppercase scheme', (t) => {
  const u = parseUri('SIPS:proxy.example.com');
  t.is(u.scheme, 'sips');
  t.is(u.user, undefined);
  t.is(u.host, 'proxy.example.com');
});

test('user part may contain ; ? / (RFC 4475 semiuri, intmeth)', (t) => {
  t.is(parseUri('sip:user;par=u%40example.net@example.com').user, 'user;par=u%40example.net');
  const u = parseUri("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
  t.is(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  t.is(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  t.is(u.host, 'example.com');
});

test('escapes are kept as written; unescapeUser decodes them', (t) => {
  const u = parseUri('sip:%75se%72@example.com');
  t.is(u.user, '%75se%72');
  t.is(unescapeUser(u.user!), 'user');
  t.is(unescapeUser('null-%00-null'), 'null-\x00-null');
});

test('IPv6 references keep brackets; port outside', (t) => {
  const u = parseUri('sip:[2001:db8::10]:5060;transport=udp');
  t.is(u.host, '[2001:db8::10]');
  t.is(u.port, 5060);
  t.is(formatUri(u), 'sip:[2001:db8::10]:5060;transport=udp');
});

test('tel URI: number in user, params lowercased keys', (t) => {
  const u = parseUri('tel:+1-201-555-0123;Phone-Context=example.com;ext=12');
  t.is(u.scheme, 'tel');
  t.is(u.user, '+1-201-555-0123');
  t.is(u.host, '');
  t.is(u.params.get('phone-context'), 'example.com');
  t.is(formatUri(u), 'tel:+1-201-555-0123;phone-context=example.com;ext=12');
});

test('other absolute URIs are opaque', (t) => {
  const u = parseUri('http://www.example.com/x?y=1');
  t.is(u.scheme, 'http');
  t.is(u.host, '');
  t.is(u.user, '//www.example.com/x?y=1');
  t.is(formatUri(u), 'http://www.example.com/x?y=1');
  t.is(parseUri('urn:uuid:f81d4fae').user, 'uuid:f81d4fae');
});

const BAD: Array<[string, string]> = [
  ['', 'Missing URI scheme'],
  ['sip.example.com', 'Missing URI scheme'],
  ['<sip:a@b>', 'Bad URI scheme'],
  ['1sip:a@b', 'Bad URI scheme'],
  ['sip:a@b c', 'Whitespace in URI'],
  ['sip:%G1@example.com', 'Bad escape in URI'],
  ['sip:user%4@example.com', 'Bad escape in URI'],
  ['sip:@example.com', 'Empty user in URI'],
  ['sip:user@', 'Missing host'],
  ['sip:example.com:', 'Bad port'],
  ['sip:example.com:99999', 'Bad port'],
  ['sip:example.com:50a', 'Bad host or port in URI'],
  ['sip:2001:db8::10', 'Bad IPv4 address'],
  ['sip:[2001:db8::10', 'Unterminated IPv6 reference'],
  ['sip:[2001:db8::zz]', 'Bad IPv6 reference'],
  ['sip:300.1.1.1', 'Bad IPv4 address'],
  ['sip:example.com;;lr', 'Empty URI parameter'],
  ['sip:example.com;maddr=', 'Empty URI parameter value'],
  ['sip:example.com?=x', 'Empty URI header'],
  ['sip:a@b"c', 'Bad character in URI'],
  ['tel:', 'Empty telephone number'],
  ['tel:12+34', 'Bad telephone number'],
  ['http:', 'Empty URI'],
  ['sip:caf\xc3\xa9@example.com', 'Bad character in URI'],
];
for (const [text, reason] of BAD) {
  test(`rejects ${JSON.stringify(text)}: ${reason}`, (t) => {
    const e = t.throws(() => parseUri(text), { instanceOf: SipParseError });
    t.is(e?.message, reason);
  });
}

test('IPv6 with ":::" before an embedded IPv4 is tolerated (RFC 5118 4.10)', (t) => {
  t.is(parseUri('sip:user@[2001:db8:::192.0.2.1]').host, '[2001:db8:::192.0.2.1]');
});

// RFC 3261 19.1.4 examples.
const EQUAL: Array<[string, string]> = [
  ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
  ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
  ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
  ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
  ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
  ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
  ['tel:+1-201-555-0123', 'tel:+1.201.555.0123'],
];
const UNEQUAL: Array<[string, string]> = [
  ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
  ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
  ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp;user=ip'],
  ['sip:bob@biloxi.com', 'sips:bob@biloxi.com'],
  ['sip:carol@chicago.com', 'sip:carol@chicago.com;maddr=10.0.0.1'],
  ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
  ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
  ['sip:carol@chicago.com?Subject=next%20meeting', 'sip:carol@chicago.com?Subject=another%20meeting'],
  ['sip:user%3Aa@example.com', 'sip:user:a@example.com'],
  ['tel:+1-201-555-0123', 'tel:+1-201-555-0124'],
];
for (const [a, b] of EQUAL) {
  test(`equal: ${a} == ${b}`, (t) => {
    t.true(uriEquals(parseUri(a), parseUri(b)));
    t.true(uriEquals(parseUri(b), parseUri(a)));
  });
}
for (const [a, b] of UNEQUAL) {
  test(`unequal: ${a} != ${b}`, (t) => {
    t.false(uriEquals(parseUri(a), parseUri(b)));
    t.false(uriEquals(parseUri(b), parseUri(a)));
  });
}

test('parseUriShared: the same text gives the same object; other texts and errors are not mixed up', (t) => {
  const a = parseUriShared('sip:alice@192.0.2.1:5070;transport=tcp');
  t.is(parseUriShared('sip:alice@192.0.2.1:5070;transport=tcp'), a);
  t.deepEqual(a, parseUri('sip:alice@192.0.2.1:5070;transport=tcp'));
  // More texts than slots: every answer is still the parse of its own text.
  const texts = ['sip:b@h1', 'sip:c@h2', 'sip:d@h3', 'sip:e@h4', 'sip:f@h5', 'sip:alice@192.0.2.1:5070;transport=tcp'];
  for (const s of texts) t.deepEqual(parseUriShared(s), parseUri(s));
  // A bad URI throws every time; it is not remembered as a result.
  t.throws(() => parseUriShared('sip:bad host'));
  t.throws(() => parseUriShared('sip:bad host'));
  t.is(parseUriShared('sip:b@h1').user, 'b');
});
