import test from 'ava';
import type { Destination } from '../../../src/transport/types.js';
import { env, RecordingHandler, reply, request, setup, times } from './helpers.js';

const UDP: Destination = { transport: 'udp', address: '203.0.113.5', port: 5060 };

test('E doubles from T1 up to T2 over UDP; F reports 408 at 64*T1', (t) => {
  const s = setup();
  const h = new RecordingHandler();
  const t0 = s.clock.t;
  const ct = s.layer.request(request('OPTIONS'), UDP, h);
  s.runFor(40_000);
  t.deepEqual(times(s.sender.sent, t0), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  t.deepEqual(h.statuses, [408]);
  t.true(h.got[0]!.local);
  t.is(ct.state, 'terminated');
  t.is(s.layer.stats().clientTransactions, 0);
  t.is(s.layer.stats().timers, 0);
});

test('after a provisional, E fires every T2', (t) => {
  const s = setup();
  const h = new RecordingHandler();
  const t0 = s.clock.t;
  const ct = s.layer.request(request('REGISTER'), UDP, h);
  s.runFor(600); // one retransmission at 500
  s.layer.receive(reply(ct.request, 100), env());
  t.is(ct.state, 'proceeding');
  s.runFor(10_000);
  // Retransmission at 1500 was already armed (interval 1000) -> then T2 (4000) steps.
  t.deepEqual(times(s.sender.sent, t0), [0, 500, 1500, 5500, 9500]);
  t.deepEqual(h.statuses, []); // 100 is not passed up
});

test('final response: K = T4, retransmitted finals absorbed', (t) => {
  const s = setup();
  const h = new RecordingHandler();
  const ct = s.layer.request(request('OPTIONS'), UDP, h);
  s.layer.receive(reply(ct.request, 180, 'x'), env());
  s.layer.receive(reply(ct.request, 200, 'x'), env());
  t.is(ct.state, 'completed');
  s.layer.receive(reply(ct.request, 200, 'x'), env());
  t.deepEqual(h.statuses, [180, 200]);
  t.is(s.layer.stats().counters.responseRetransmissions, 1);
  s.runFor(4990);
  t.is(ct.state, 'completed');
  s.advance(10);
  t.is(ct.state, 'terminated');
  t.is(s.sender.sent.length, 1); // no retransmission after the final
  t.is(s.layer.stats().timers, 0);
});

test('TCP: no E, K = 0', (t) => {
  const s = setup();
  const h = new RecordingHandler();
  const ct = s.layer.request(request('OPTIONS'), { transport: 'tcp', address: '203.0.113.5', port: 5060 }, h);
  s.runFor(10_000);
  t.is(s.sender.sent.length, 1);
  s.layer.receive(reply(ct.request, 200, 'x'), env('tcp'));
  t.is(ct.state, 'terminated');
  t.deepEqual(h.statuses, [200]);
  t.is(s.layer.stats().timers, 0);
});

test('responses match on branch and CSeq method', (t) => {
  const s = setup();
  const h = new RecordingHandler();
  const ct = s.layer.request(request('OPTIONS'), UDP, h);
  const wrong = reply(ct.request, 200, 'x');
  wrong.set('CSeq', '1 INFO');
  s.layer.receive(wrong, env());
  t.deepEqual(h.statuses, []);
  t.is(s.user.strays.length, 1);
});
