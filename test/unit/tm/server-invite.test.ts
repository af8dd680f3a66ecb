import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import { env, request, setup, summary, times } from './helpers.js';

function inviteArrives(transport: 'udp' | 'tcp' = 'udp') {
  const s = setup();
  const inv = request('INVITE', { transport: transport.toUpperCase() });
  s.layer.receive(inv, env(transport, undefined, transport === 'tcp' ? { connectionId: 9 } : {}));
  const st = s.user.requests[0]!.server!;
  return { ...s, inv, st };
}

test('new INVITE creates a proceeding server transaction and reaches the TU once', (t) => {
  const { layer, user, st, inv } = inviteArrives();
  t.is(user.requests.length, 1);
  t.is(st.state, 'proceeding');
  layer.receive(request('INVITE'), env()); // retransmission
  t.is(user.requests.length, 1);
  t.is(layer.stats().serverTransactions, 1);
  t.is(st.request, inv);
});

test('INVITE retransmission: nothing sent before a response, then the last provisional again', (t) => {
  const { layer, sender, st, inv } = inviteArrives();
  layer.receive(request('INVITE'), env());
  t.is(sender.sent.length, 0);
  st.respond(buildResponse(inv, 100));
  st.respond(buildResponse(inv, 180, { toTag: 'srv' }));
  sender.take();
  layer.receive(request('INVITE'), env());
  t.deepEqual(summary(sender.sent), ['180']);
  t.is(st.lastResponse!.status, 180);
  t.deepEqual(sender.sent[0]!.dest, { transport: 'udp', address: '198.51.100.7', port: 5062, socketId: 'any-udp' });
});

test('non-2xx final over UDP: G doubles up to T2, H gives up at 64*T1', (t) => {
  const timeouts: string[] = [];
  const s = setup({}, { onServerTimeout: (st) => timeouts.push(st.id) });
  const inv = request('INVITE');
  s.layer.receive(inv, env());
  const st = s.user.requests[0]!.server!;
  const start = s.clock.t;
  st.respond(buildResponse(inv, 486, { toTag: 'srv' }));
  t.is(st.state, 'completed');
  s.runFor(40_000);
  t.deepEqual(times(s.sender.sent, start), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  t.true(s.sender.sent.every((x) => x.msg.status === 486));
  t.is(st.state, 'terminated');
  t.is(timeouts.length, 1);
  t.deepEqual(s.layer.stats().serverTransactions, 0);
  t.is(s.layer.stats().timers, 0);
  t.is(s.layer.stats().counters.timeouts, 1);
});

test('ACK for a non-2xx final is absorbed: G stops, Confirmed, I = T4 then gone', (t) => {
  const { layer, sender, user, st, inv, advance, runFor } = inviteArrives();
  st.respond(buildResponse(inv, 404, { toTag: 'srv' }));
  advance(600); // one G retransmission
  t.is(sender.take().length, 2);
  layer.receive(request('ACK', { toTag: 'srv' }), env());
  t.is(st.state, 'confirmed');
  t.is(user.requests.length, 1); // the ACK did not reach the TU
  layer.receive(request('ACK', { toTag: 'srv' }), env()); // ACK retransmission: absorbed
  layer.receive(request('INVITE'), env()); // late INVITE retransmission: absorbed in Confirmed
  t.is(user.requests.length, 1);
  runFor(4990);
  t.is(st.state, 'confirmed');
  t.is(sender.sent.length, 0);
  advance(10);
  t.is(st.state, 'terminated');
  t.is(layer.stats().serverTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('INVITE retransmission in Completed gets the final response again', (t) => {
  const { layer, sender, st, inv } = inviteArrives();
  st.respond(buildResponse(inv, 480, { toTag: 'srv' }));
  sender.take();
  layer.receive(request('INVITE'), env());
  t.deepEqual(summary(sender.sent), ['480']);
});

test('RFC 6026: 2xx -> Accepted; TU 2xx retransmissions sent, ACK to TU, INVITE absorbed, L ends it', (t) => {
  const { layer, sender, user, st, inv, runFor, advance } = inviteArrives();
  const ok = buildResponse(inv, 200, { toTag: 'srv' });
  st.respond(ok);
  t.is(st.state, 'accepted');
  t.deepEqual(summary(sender.take()), ['200']);
  runFor(5000);
  t.is(sender.sent.length, 0); // the server transaction never retransmits a 2xx itself
  st.respond(ok); // the TU (a UAS core, or the proxy forwarding a retransmission) does
  st.respond(buildResponse(inv, 486, { toTag: 'x' })); // non-2xx after 2xx: ignored
  t.deepEqual(summary(sender.take()), ['200']);
  layer.receive(request('INVITE'), env());
  t.is(sender.sent.length, 0);
  t.is(user.requests.length, 1);
  // An ACK that matches the transaction (same branch) is passed to the TU with no server transaction.
  layer.receive(request('ACK', { toTag: 'srv' }), env());
  t.is(user.requests.length, 2);
  t.is(user.requests[1]!.req.method, 'ACK');
  t.is(user.requests[1]!.server, undefined);
  // An ACK with its own branch (RFC 3261 2xx ACK) too.
  layer.receive(request('ACK', { toTag: 'srv', branch: 'z9hG4bKack2xx' }), env());
  t.is(user.requests.length, 3);
  runFor(64 * 500 - 5000 - 10);
  t.is(st.state, 'accepted');
  advance(10);
  t.is(st.state, 'terminated');
  t.is(layer.stats().serverTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('TCP: no G retransmissions, ACK terminates at once (I = 0), replies go on the connection', (t) => {
  const { layer, sender, st, inv, runFor } = inviteArrives('tcp');
  st.respond(buildResponse(inv, 603, { toTag: 'srv' }));
  runFor(10_000);
  t.is(sender.sent.length, 1);
  t.is(sender.sent[0]!.dest.connectionId, 9);
  t.is(sender.sent[0]!.dest.transport, 'tcp');
  layer.receive(request('ACK', { toTag: 'srv', transport: 'TCP' }), env('tcp', undefined, { connectionId: 9 }));
  t.is(st.state, 'terminated');
  t.is(layer.stats().serverTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('TCP without ACK: H still fires at 64*T1', (t) => {
  const { st, inv, runFor, layer } = inviteArrives('tcp');
  st.respond(buildResponse(inv, 500));
  runFor(31_990);
  t.is(st.state, 'completed');
  runFor(10);
  t.is(st.state, 'terminated');
  t.is(layer.stats().timers, 0);
});

test('transport error on a response terminates the server transaction', (t) => {
  const { sender, st, inv, layer } = inviteArrives();
  sender.failNext = new Error('ICMP unreachable');
  st.respond(buildResponse(inv, 486, { toTag: 'srv' }));
  t.is(st.state, 'completed');
  sender.flushErrors();
  t.is(st.state, 'terminated');
  t.is(layer.stats().counters.transportErrors, 1);
  t.is(layer.stats().timers, 0);
  t.is(layer.stats().serverTransactions, 0);
});
