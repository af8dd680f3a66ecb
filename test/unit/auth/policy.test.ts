import test from 'ava';
import { AccessPolicy, type RequestFacts } from '../../../src/auth/policy.js';
import { SipMessage } from '../../../src/sip/message.js';

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  ruriLocal: false,
  fromLocal: false,
  fromHost: 'example.com',
  toHost: 'example.com',
  followsOurRoute: false,
  foreignRoute: false,
  ...over,
});

function req(method: string, toTag?: string): SipMessage {
  const m = SipMessage.request(method, 'sip:bob@203.0.113.9');
  m.append('Via', 'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1');
  m.append('From', '<sip:a@example.com>;tag=1');
  m.append('To', toTag ? `<sip:bob@203.0.113.9>;tag=${toTag}` : '<sip:bob@203.0.113.9>');
  m.append('Call-ID', 'p1');
  m.append('CSeq', `1 ${method}`);
  return m;
}

const policy = (over: Partial<ConstructorParameters<typeof AccessPolicy>[0]> = {}) =>
  new AccessPolicy({ register: true, local_users: true, trusted: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], relay_open: false, ...over }, undefined);

test('trusted addresses and CIDRs, IPv4 and IPv6; anything else is not', (t) => {
  const p = policy();
  for (const a of ['10.1.2.3', '2001:db8::5', '192.0.2.7']) t.true(p.isTrusted(a), a);
  for (const a of ['11.0.0.1', '2001:db9::1', '192.0.2.8', 'not-an-ip']) t.false(p.isTrusted(a), a);
  t.like(p.decide(req('INVITE'), '10.9.9.9', facts()), { kind: 'pass', trusted: true });
});

test('leaving our domains needs a user or a trusted peer; a genuine route of ours is followed; open_relay relays for anyone', (t) => {
  const p = policy();
  t.like(p.decide(req('INVITE'), '198.51.100.7', facts()), { kind: 'refused', status: 403, reason: 'Relaying Forbidden' });
  t.like(p.decide(req('INVITE'), '198.51.100.7', facts({ ruriLocal: true, foreignRoute: true })), { kind: 'refused' }, 'a pre-loaded Route away');
  t.like(p.decide(req('INVITE'), '198.51.100.7', facts({ ruriLocal: true })), { kind: 'pass' }, 'a call to one of our users');
  t.like(p.decide(req('BYE', 'x'), '198.51.100.7', facts({ followsOurRoute: true, foreignRoute: true })), { kind: 'pass' }, 'in a dialog we record-routed');
  t.like(p.decide(req('INVITE'), '198.51.100.7', facts({ followsOurRoute: true })), { kind: 'pass' }, 'along a Path of ours (a flow token)');
  t.like(p.decide(req('INVITE'), '198.51.100.7', facts({ followsOurRoute: true, foreignRoute: true })), { kind: 'refused' }, 'through our Path and on to another host: not without a dialog');
  t.like(policy({ relay_open: true }).decide(req('INVITE'), '198.51.100.7', facts()), { kind: 'pass' });
  t.is(p.counters.relay_refused, 3);
});

test('with trusted peers and no subscribers, only a trusted peer registers: nobody else can prove who they are', (t) => {
  const p = policy();
  t.like(p.decide(req('REGISTER'), '198.51.100.7', facts({ ruriLocal: true })), { kind: 'refused', status: 403 });
  t.like(p.decide(req('REGISTER'), '10.0.0.9', facts({ ruriLocal: true })), { kind: 'pass', trusted: true });
  t.like(policy({ relay_open: true }).decide(req('REGISTER'), '198.51.100.7', facts({ ruriLocal: true })), { kind: 'pass' }, 'open_relay: as before authentication');
});
