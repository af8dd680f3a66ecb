// RFC 5118 IPv6 torture messages (test/fixtures/rfc5118, see its README for
// the few transcription fixes).

import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseMessage } from '../../../src/sip/parser.js';
import { parseUri } from '../../../src/sip/uri.js';
import { validateRequest } from '../../../src/sip/validate.js';

const DIR = fileURLToPath(new URL('../../fixtures/rfc5118/', import.meta.url));
const load = (name: string) => readFileSync(DIR + name + '.sip');

const VALID = [
  'ipv6-good', 'port-ambiguous', 'port-unambiguous', 'via-received-param-with-delim',
  'via-received-param-no-delim', 'ipv6-in-sdp', 'mult-ip-in-header', 'mult-ip-in-sdp',
  'ipv4-mapped-ipv6', 'ipv6-bug-abnf-3-colons', 'ipv6-correct-abnf-2-colons',
];

test('every fixture is classified', (t) => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.sip')).map((f) => f.slice(0, -4)).sort();
  t.deepEqual(files, [...VALID, 'ipv6-bad'].sort());
});

for (const name of VALID) {
  test(`${name}: accepted and round-trips`, (t) => {
    const input = load(name);
    const m = parseMessage(input);
    t.is(validateRequest(m), null);
    t.true(m.serialize().equals(input));
  });
}

test('4.2 ipv6-bad: IPv6 Request-URI without brackets is rejected', (t) => {
  const r = validateRequest(parseMessage(load('ipv6-bad')));
  t.is(r?.status, 400);
  t.regex(r?.reason ?? '', /^Bad Request-URI: /);
});

test('4.1: IPv6 hosts in R-URI, Via and Contact keep their brackets', (t) => {
  const m = parseMessage(load('ipv6-good'));
  t.is(parseUri(m.uri).host, '[2001:db8::10]');
  t.is(m.topVia.host, '[2001:db8::9:1]');
  t.is(m.topVia.port, undefined);
  const contact = m.getAll('contact')[0]!;
  t.is(contact, '"Caller" <sip:caller@[2001:db8::1]>');
  t.is(parseUri('sip:caller@[2001:db8::1]').host, '[2001:db8::1]');
});

test('4.3/4.4: a port inside the brackets is part of the address, outside it is a port', (t) => {
  const amb = parseUri(parseMessage(load('port-ambiguous')).uri);
  t.is(amb.host, '[2001:db8::10:5070]');
  t.is(amb.port, undefined);
  const unamb = parseUri(parseMessage(load('port-unambiguous')).uri);
  t.is(unamb.host, '[2001:db8::10]');
  t.is(unamb.port, 5070);
});

test('4.5: received with and without brackets', (t) => {
  t.is(parseMessage(load('via-received-param-with-delim')).topVia.received, '[2001:db8::9:255]');
  t.is(parseMessage(load('via-received-param-no-delim')).topVia.received, '2001:db8::9:255');
});

test('4.7/4.9: Via sent-by with IPv6 and port, IPv4-mapped', (t) => {
  const m = parseMessage(load('mult-ip-in-header'));
  t.deepEqual(m.vias.map((v) => [v.host, v.port]), [
    ['[2001:db8::9:1]', 6050],
    ['192.0.2.1', undefined],
    ['[2001:db8::9:255]', undefined],
  ]);
  const mapped = parseMessage(load('ipv4-mapped-ipv6'));
  t.is(mapped.topVia.host, '[::ffff:192.0.2.10]');
  t.is(mapped.topVia.port, 19823);
});

test('4.6: body with IPv6 SDP preserved', (t) => {
  const m = parseMessage(load('ipv6-in-sdp'));
  t.regex(m.body.toString('latin1'), /^v=0\r\no=assistant .* IN IP6 2001:db8::20\r\n/);
  t.is(m.body.length, 251);
});
