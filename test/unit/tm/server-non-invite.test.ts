import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import { env, request, setup, summary } from './helpers.js';

test('non-INVITE server: retransmissions absorbed in Trying, answered with the last response after', (t) => {
  const { layer, sender, user } = setup();
  const opt = request('OPTIONS');
  layer.receive(opt, env());
  const st = user.requests[0]!.server!;
  t.is(st.state, 'trying');
  layer.receive(request('OPTIONS'), env());
  t.is(sender.sent.length, 0);
  t.is(user.requests.length, 1);
  st.respond(buildResponse(opt, 183));
  t.is(st.state, 'proceeding');
  layer.receive(request('OPTIONS'), env());
  t.deepEqual(summary(sender.take()), ['183', '183']);
  st.respond(buildResponse(opt, 200, { toTag: 'x' }));
  t.is(st.state, 'completed');
  st.respond(buildResponse(opt, 500)); // after the final: ignored
  layer.receive(request('OPTIONS'), env());
  layer.receive(request('OPTIONS'), env());
  t.deepEqual(summary(sender.take()), ['200', '200', '200']);
  t.is(user.requests.length, 1);
  t.is(layer.stats().counters.requestRetransmissions, 4);
});

test('non-INVITE server over UDP: J = 64*T1, then a retransmission is a new transaction', (t) => {
  const { layer, user, runFor, advance } = setup();
  const opt = request('OPTIONS');
  layer.receive(opt, env());
  const st = user.requests[0]!.server!;
  st.respond(buildResponse(opt, 200, { toTag: 'x' }));
  runFor(31_990);
  t.is(st.state, 'completed');
  advance(10);
  t.is(st.state, 'terminated');
  t.is(layer.stats().serverTransactions, 0);
  t.is(layer.stats().timers, 0);
  layer.receive(request('OPTIONS'), env());
  t.is(user.requests.length, 2);
});

test('non-INVITE server over TCP: J = 0', (t) => {
  const { layer, user } = setup();
  const opt = request('MESSAGE', { transport: 'TCP' });
  layer.receive(opt, env('tcp', undefined, { connectionId: 3 }));
  const st = user.requests[0]!.server!;
  st.respond(buildResponse(opt, 202, { toTag: 'x' }));
  t.is(st.state, 'terminated');
  t.is(layer.stats().serverTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('the TU may keep its context on the transaction', (t) => {
  const { layer, user } = setup();
  layer.receive(request('OPTIONS'), env());
  const st = user.requests[0]!.server!;
  st.user = { call: 1 };
  t.deepEqual(st.user, { call: 1 });
});
