import test from 'ava';
import { aorOf } from '../../../src/location/aor.js';
import { parseUri } from '../../../src/sip/uri.js';
import { env, newRegistrar, register } from './helpers.js';

test('AOR canonical form ignores port, params, escapes and sips', (t) => {
  t.is(aorOf(parseUri('sips:%61lice@Example.COM:5061;transport=tcp')), 'sip:alice@example.com');
});

test('register, query, and the 200 lists every contact with its expiry and q', (t) => {
  const r = newRegistrar();
  const a = r.handle(register(['<sip:alice@192.0.2.10:5062>;q=0.5', '<sip:alice@192.0.2.11>;expires=120']), env, 0);
  t.is(a.response.status, 200);
  const contacts = a.response.getAll('contact');
  t.is(contacts.length, 2);
  t.true(contacts.some((c) => c.includes('expires=3600') && c.includes('q=0.5')));
  t.true(contacts.some((c) => c.includes('expires=120')));
  const q = r.handle(register([]), env, 1000);
  t.is(q.outcome, 'queried');
  t.is(q.response.getAll('contact').length, 2);
  // Highest q first: the one without q counts as 1.0.
  t.deepEqual(r.lookup('sip:alice@example.com', 1000).map((b) => b.contact), ['sip:alice@192.0.2.11', 'sip:alice@192.0.2.10:5062']);
});

test('bindings expire', (t) => {
  const r = newRegistrar();
  r.handle(register(['<sip:alice@192.0.2.10>'], { expires: '60' }), env, 0);
  t.is(r.lookup('sip:alice@example.com', 59_000).length, 1);
  t.is(r.lookup('sip:alice@example.com', 60_001).length, 0);
  t.is(r.location.size, 1, 'held until the sweep');
  t.is(r.location.sweep(60_001), 1);
  t.is(r.location.size, 0);
});

test('too brief an interval gets 423 with Min-Expires; too long is clamped', (t) => {
  const r = newRegistrar();
  const brief = r.handle(register(['<sip:alice@192.0.2.10>'], { expires: '10' }), env, 0);
  t.is(brief.response.status, 423);
  t.is(brief.response.get('min-expires'), '60');
  const long = r.handle(register(['<sip:alice@192.0.2.10>'], { expires: '99999' }), env, 0);
  t.true(long.response.getAll('contact')[0]!.includes('expires=7200'));
});

test('expires=0 removes one contact; wildcard removes all and needs Expires: 0', (t) => {
  const r = newRegistrar();
  r.handle(register(['<sip:alice@192.0.2.10>', '<sip:alice@192.0.2.11>']), env, 0);
  r.handle(register(['<sip:alice@192.0.2.10>;expires=0']), env, 0);
  t.is(r.location.size, 1);
  const bad = r.handle(register(['*'], { expires: '60' }), env, 0);
  t.is(bad.response.status, 400);
  const all = r.handle(register(['*'], { expires: '0' }), env, 0);
  t.is(all.response.status, 200);
  t.is(all.outcome, 'unregistered');
  t.is(r.location.size, 0);
});

test('an older CSeq on the same Call-ID is refused with 500 and changes nothing', (t) => {
  const r = newRegistrar();
  r.handle(register(['<sip:alice@192.0.2.10>'], { cseq: 10, callId: 'c1' }), env, 0);
  const old = r.handle(register(['<sip:alice@192.0.2.10>;expires=0'], { cseq: 9, callId: 'c1' }), env, 0);
  t.is(old.response.status, 500);
  t.is(r.location.size, 1);
});

test('max_contacts is enforced with 503', (t) => {
  const r = newRegistrar();
  const res = r.handle(register(['<sip:a@1.1.1.1>', '<sip:a@1.1.1.2>', '<sip:a@1.1.1.3>', '<sip:a@1.1.1.4>']), env, 0);
  t.is(res.response.status, 503);
  t.is(r.location.size, 0);
});

test('Path is stored and echoed only to a UA that supports it (RFC 3327)', (t) => {
  const r = newRegistrar();
  const path = '<sip:edge.example.com;lr>';
  const without = r.handle(register(['<sip:alice@192.0.2.10>'], { extra: [['Path', path]] }), env, 0);
  t.false(without.response.has('path'));
  t.deepEqual(r.lookup('sip:alice@example.com', 0)[0]!.path, [path]);
  const withPath = r.handle(register(['<sip:alice@192.0.2.10>'], { extra: [['Path', path], ['Supported', 'path']] }), env, 0);
  t.is(withPath.response.get('path'), path);
});

test('a malformed Expires or q gets 400 with a reason, not an exception', (t) => {
  const r = newRegistrar();
  const e = r.handle(register(['<sip:alice@192.0.2.10>'], { expires: 'soon' }), env, 0);
  t.is(e.response.status, 400);
  t.regex(e.response.reason, /Expires/);
  const q = r.handle(register(['<sip:alice@192.0.2.10>;q=2']), env, 0);
  t.is(q.response.status, 400);
});

test('a phone that registered its own address from behind a NAT is marked so; a third-party or public registration is not', (t) => {
  const behind = { ...env, remote: { address: '198.51.100.7', port: 40123 } };
  const nat = (contact: string, opts: Parameters<typeof register>[1]) => {
    const r = newRegistrar();
    t.is(r.handle(register([contact], opts), behind, 0).response.status, 200);
    return r.lookup('sip:alice@example.com', 0)[0]?.source.nat;
  };
  t.true(nat('<sip:alice@192.168.1.20:5060>', { via: '192.168.1.20:5060', callId: 'n1' }), 'Via and Contact private, the REGISTER from the NAT');
  t.true(nat('<sip:alice@203.0.113.5:5060>', { via: '203.0.113.5:5060', callId: 'n2' }), 'a public Via that is not where it came from (a NAT rewrote the port)');
  t.is(nat('<sip:alice@10.1.1.1:5060>', { via: '198.51.100.7:40123', callId: 'n3' }), undefined, 'a third-party registration: the Contact is not its own Via host');
  t.is(nat('<sip:alice@198.51.100.7:40123>', { via: '198.51.100.7:40123', callId: 'n4' }), undefined, 'a public phone, sent from where its Via says');
  t.is(
    nat('<sip:alice@192.168.1.21:5060>', { via: '192.168.1.21:5060', callId: 'n5', extra: [['Path', '<sip:edge.example.com;lr>'], ['Supported', 'path']] }),
    undefined,
    'through an edge proxy (Path), which reaches the phone itself',
  );
});
