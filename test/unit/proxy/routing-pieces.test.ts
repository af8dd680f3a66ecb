import test from 'ava';
import { isBetter, rank } from '../../../src/proxy/best-response.js';
import { LocalAddresses } from '../../../src/proxy/local-address.js';
import { preprocessRoute } from '../../../src/proxy/loose-route.js';
import { recordRoutes } from '../../../src/proxy/record-route.js';
import { matchRoute } from '../../../src/proxy/route-table.js';
import { checkDecision } from '../../../src/proxy/route-hook.js';
import { SipMessage } from '../../../src/sip/message.js';
import { parseUri } from '../../../src/sip/uri.js';
import type { SocketSpec } from '../../../src/transport/types.js';

const udp: SocketSpec = { id: 'udp', transport: 'udp', address: '10.0.0.1', port: 5060, role: 'anycast' };
const core: SocketSpec = { id: 'core', transport: 'tcp', address: '192.0.2.1', port: 5070, role: 'unicast' };
const v6: SocketSpec = { id: 'v6', transport: 'udp', address: '2001:db8::1', port: 5060, role: 'anycast' };
const me = new LocalAddresses([udp, core, v6], []);

test('best response: 6xx beats all, then lowest class, preferred 4xx within 4xx', (t) => {
  t.true(isBetter(603, 302));
  t.true(isBetter(302, 404));
  t.true(isBetter(404, 503));
  t.true(isBetter(407, 404), '407 is preferred over 404');
  t.false(isBetter(404, 401));
  t.false(isBetter(500, 486));
  t.true(isBetter(486, undefined));
  t.true(rank(600) < rank(300));
});

test('local addresses: our sockets (with default port) are us, other hosts are not', (t) => {
  t.true(me.isMe(parseUri('sip:10.0.0.1;lr')));
  t.true(me.isMe(parseUri('sip:192.0.2.1:5070;transport=tcp;lr')));
  t.true(me.isMe(parseUri('sip:[2001:db8::1]:5060;lr')));
  t.false(me.isMe(parseUri('sip:10.0.0.1:5080')));
  t.false(me.isMe(parseUri('sip:10.0.0.2')));
});

test('local domain: any name when none configured, but other IP literals are relayed', (t) => {
  t.true(me.isLocalDomain(parseUri('sip:alice@example.com')));
  t.true(me.isLocalDomain(parseUri('sip:alice@10.0.0.1')));
  t.false(me.isLocalDomain(parseUri('sip:alice@10.9.9.9')));
  const only = new LocalAddresses([udp], ['Example.com']);
  t.true(only.isLocalDomain(parseUri('sip:bob@example.COM')));
  t.false(only.isLocalDomain(parseUri('sip:bob@other.org')));
});

function request(uri: string, routes: string[]): SipMessage {
  const m = SipMessage.request('BYE', uri);
  m.append('Via', 'SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK1');
  for (const r of routes) m.append('Route', r);
  return m;
}

test('loose routing pops our Route entries, both of a double Record-Route', (t) => {
  const m = request('sip:bob@10.9.9.9', ['<sip:10.0.0.1;lr>', '<sip:192.0.2.1:5070;transport=tcp;lr>', '<sip:10.5.5.5;lr>']);
  preprocessRoute(m, me);
  t.deepEqual(m.getAll('route'), ['<sip:10.5.5.5;lr>']);
  t.is(m.uri, 'sip:bob@10.9.9.9');
});

test('loose routing leaves a foreign top Route alone', (t) => {
  const m = request('sip:bob@10.9.9.9', ['<sip:10.5.5.5;lr>']);
  t.deepEqual(preprocessRoute(m, me).ours, []);
  t.is(m.getAll('route').length, 1);
});

test('strict router upstream: our URI in the Request-URI is replaced by the last Route', (t) => {
  const m = request('sip:10.0.0.1;lr', ['<sip:10.5.5.5;lr>', '<sip:bob@10.9.9.9>']);
  preprocessRoute(m, me);
  t.is(m.uri, 'sip:bob@10.9.9.9');
  t.deepEqual(m.getAll('route'), ['<sip:10.5.5.5;lr>']);
});

test('socketOf finds the socket a Record-Route URI of ours names, by host, port and transport', (t) => {
  t.is(me.socketOf(parseUri('sip:10.0.0.1;lr'))?.id, 'udp');
  t.is(me.socketOf(parseUri('sip:192.0.2.1:5070;transport=tcp;lr'))?.id, 'core');
  t.is(me.socketOf(parseUri('sip:192.0.2.1:5070;lr')), undefined, 'no UDP socket there');
  t.is(me.socketOf(parseUri('sip:[2001:db8::1];lr'))?.id, 'v6');
});

test('record-route: once on the same socket, twice when the request changes side', (t) => {
  t.deepEqual(recordRoutes(udp, udp), ['<sip:10.0.0.1:5060;lr>']);
  t.deepEqual(recordRoutes(udp, core), ['<sip:192.0.2.1:5070;transport=tcp;lr>', '<sip:10.0.0.1:5060;lr>']);
  t.deepEqual(recordRoutes(v6, v6), ['<sip:[2001:db8::1]:5060;lr>']);
});

test('anycast Record-Route: a unicast socket is named by the anycast address with ;s=<socket id>', (t) => {
  const anyTcp: SocketSpec = { id: 'any-tcp', transport: 'tcp', address: '10.0.0.1', port: 5060, role: 'anycast' };
  const local = new LocalAddresses([udp, core, anyTcp], []);
  t.deepEqual(recordRoutes(udp, core, undefined, undefined, (s) => local.anycastFor(s)), [
    '<sip:10.0.0.1:5060;transport=tcp;lr;s=core>',
    '<sip:10.0.0.1:5060;lr>',
  ]);
  t.is(local.socketOf(parseUri('sip:10.0.0.1:5060;transport=tcp;lr;s=core'))?.id, 'core', ';s= names the socket');
  t.is(local.anycastFor(udp), undefined, 'an anycast socket stands for itself');
});

test('route table: first match by domain and user prefix', (t) => {
  const routes = [
    { match: { domain: 'example.com', user_prefix: '+44' }, targets: ['sip:uk-gw'] },
    { match: { domain: '*' }, targets: ['sip:default-gw'] },
  ];
  t.is(matchRoute(routes, parseUri('sip:+4420@example.com'))?.targets[0], 'sip:uk-gw');
  t.is(matchRoute(routes, parseUri('sip:+3320@example.com'))?.targets[0], 'sip:default-gw');
  t.is(matchRoute([routes[0]!], parseUri('sip:+4420@other.com')), undefined);
});

test('route hook answers are checked', (t) => {
  t.is(checkDecision(undefined), undefined);
  t.deepEqual(checkDecision({ targets: ['sip:a@b'] }), { targets: ['sip:a@b'] });
  t.deepEqual(checkDecision({ status: 403, reason: 'No' }), { status: 403, reason: 'No' });
  t.throws(() => checkDecision({ targets: [42] }), { message: /URI strings/ });
  t.throws(() => checkDecision({ status: 200 }), { message: /300\.\.699/ });
  t.throws(() => checkDecision('sip:x'), { message: /returned string/ });
});
