import test from 'ava';
import type { Destination } from '../../../src/transport/types.js';
import { env, RecordingHandler, reply, request, setup, summary, times } from './helpers.js';

const UDP: Destination = { transport: 'udp', address: '203.0.113.5', port: 5060 };
const TCP: Destination = { transport: 'tcp', address: '2001:db8::5', port: 5060 };

function start(dest: Destination = UDP, timers = {}) {
  const s = setup(timers);
  const h = new RecordingHandler();
  const t0 = s.clock.t;
  const ct = s.layer.request(request('INVITE', { branch: 'z9hG4bKupstream' }), dest, h);
  return { ...s, h, ct, t0 };
}

test('request() prepends our Via with an owner-tagged branch and sends', (t) => {
  const { ct, sender, layer } = start();
  t.is(sender.sent.length, 1);
  const sent = sender.sent[0]!.msg;
  t.is(sent.vias.length, 2);
  const via = sent.topVia;
  t.is(via.transport, 'UDP');
  t.is(via.host, '192.0.2.1'); // the socket's advertised address
  t.is(via.port, 5060);
  t.regex(via.branch!, /^z9hG4bK\.a/);
  t.true(layer.ownsBranch(via.branch));
  t.deepEqual(layer.decodeBranch(via.branch), { nodeId: 7, valid: true, stateless: false });
  t.is(ct.request.topVia.branch, via.branch);
  t.is(ct.state, 'calling');
  t.deepEqual(sender.sent[0]!.dest, UDP);
  t.is(layer.findClient(via.branch!, 'INVITE'), ct);
});

test('IPv6 socket address goes in brackets', (t) => {
  const { sender } = start(TCP);
  const raw = sender.sent[0]!.text;
  t.regex(raw, /Via: SIP\/2\.0\/TCP \[2001:db8::1\]:5070;branch=z9hG4bK\.a/);
});

test('A retransmits over UDP with T1 doubling until B; B reports 408 to the TU', (t) => {
  const { sender, h, ct, t0, runFor, layer } = start();
  runFor(40_000);
  // RFC 3261 17.1.1.2: A doubles without a T2 cap; B stops it at 64*T1.
  t.deepEqual(times(sender.sent, t0), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  t.deepEqual(h.statuses, [408]);
  t.true(h.got[0]!.local);
  t.is(ct.state, 'terminated');
  t.is(ct.lastStatus, 408);
  t.is(layer.stats().clientTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('TCP: no retransmissions; B still fires', (t) => {
  const { sender, h, runFor } = start(TCP);
  runFor(31_990);
  t.is(sender.sent.length, 1);
  t.deepEqual(h.statuses, []);
  runFor(10);
  t.deepEqual(h.statuses, [408]);
});

test('provisionals: A stops, 100 is not passed up, 180 is', (t) => {
  const { sender, h, ct, layer, runFor } = start();
  layer.receive(reply(ct.request, 100), env());
  t.is(ct.state, 'proceeding');
  layer.receive(reply(ct.request, 180, 'b1'), env());
  runFor(60_000); // B no longer applies: only timer C (180 s) guards Proceeding
  t.is(sender.sent.length, 1);
  t.deepEqual(h.statuses, [180]);
  t.is(ct.state, 'proceeding');
  t.is(ct.lastStatus, 180);
});

test('non-2xx final: hop-by-hop ACK, retransmissions absorbed with the ACK again, D then gone', (t) => {
  const { sender, h, ct, layer, runFor, advance } = start();
  layer.receive(reply(ct.request, 180, 'b1'), env());
  const busy = reply(ct.request, 486, 'b1');
  layer.receive(busy, env());
  t.is(ct.state, 'completed');
  t.deepEqual(h.statuses, [180, 486]);
  const out = sender.take();
  t.deepEqual(summary(out), ['INVITE', 'ACK']);
  const ack = out[1]!.msg;
  t.deepEqual(out[1]!.dest, UDP);
  t.is(ack.vias.length, 1); // our Via only
  t.is(ack.topVia.branch, ct.request.topVia.branch);
  t.is(ack.toTag, 'b1');
  t.deepEqual(ack.cseq, { seq: 1, method: 'ACK' });
  t.is(ack.uri, ct.request.uri);
  layer.receive(reply(ct.request, 486, 'b1'), env());
  layer.receive(reply(ct.request, 486, 'b1'), env());
  t.deepEqual(summary(sender.take()), ['ACK', 'ACK']);
  t.deepEqual(h.statuses, [180, 486]);
  runFor(31_990);
  t.is(ct.state, 'completed');
  advance(10);
  t.is(ct.state, 'terminated');
  t.is(layer.stats().clientTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('non-2xx final over TCP: ACK sent, D = 0', (t) => {
  const { sender, ct, layer } = start(TCP);
  layer.receive(reply(ct.request, 503), env('tcp'));
  t.deepEqual(summary(sender.sent), ['INVITE', 'ACK']);
  t.is(ct.state, 'terminated');
  t.is(layer.stats().timers, 0);
});

test('RFC 6026: 2xx -> Accepted, every 2xx passed to the TU, M ends it, then 2xx are strays', (t) => {
  const { sender, h, ct, layer, user, runFor, advance } = start();
  layer.receive(reply(ct.request, 200, 'b1'), env());
  t.is(ct.state, 'accepted');
  layer.receive(reply(ct.request, 200, 'b1'), env()); // retransmission
  layer.receive(reply(ct.request, 200, 'b2'), env()); // another fork downstream
  layer.receive(reply(ct.request, 180, 'b3'), env()); // late provisional: dropped
  layer.receive(reply(ct.request, 486, 'b4'), env()); // late non-2xx: dropped
  t.deepEqual(h.statuses, [200, 200, 200]);
  t.deepEqual(summary(sender.sent), ['INVITE']); // no ACK for a 2xx from the transaction
  runFor(31_990);
  t.is(ct.state, 'accepted');
  advance(10);
  t.is(ct.state, 'terminated');
  layer.receive(reply(ct.request, 200, 'b1'), env());
  t.is(user.strays.length, 1);
  t.is(layer.stats().timers, 0);
});

test('timer C with a provisional: CANCEL sent, 408 to the TU, the 487 is ACKed and absorbed', (t) => {
  const { sender, h, ct, layer, runFor, advance } = start(UDP, { timerC: 60_000 });
  layer.receive(reply(ct.request, 100), env());
  advance(10_000);
  layer.receive(reply(ct.request, 180, 'b1'), env()); // resets C: now due 10 s + 60 s
  sender.take();
  runFor(59_990);
  t.deepEqual(h.statuses, [180]);
  t.is(sender.sent.length, 0);
  advance(10);
  t.deepEqual(h.statuses, [180, 408]);
  t.true(h.got[1]!.local);
  const out = sender.take();
  t.deepEqual(summary(out), ['CANCEL']);
  const cancel = out[0]!.msg;
  t.is(cancel.topVia.branch, ct.request.topVia.branch);
  t.is(cancel.vias.length, 1);
  t.deepEqual(cancel.cseq, { seq: 1, method: 'CANCEL' });
  t.deepEqual(out[0]!.dest, UDP);
  t.is(layer.stats().clientTransactions, 2);
  // The CANCEL's 200 and the INVITE's 487 arrive: matched by CSeq method.
  layer.receive(reply(cancel, 200, 'b1'), env());
  layer.receive(reply(ct.request, 487, 'b1'), env());
  t.deepEqual(h.statuses, [180, 408]); // 487 not reported twice
  t.deepEqual(summary(sender.take()), ['ACK']);
  runFor(40_000);
  t.is(layer.stats().clientTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('timer C without a provisional: 408, no CANCEL', (t) => {
  const { sender, h, ct, runFor, layer } = start(UDP, { timerC: 10_000 });
  runFor(10_000);
  t.deepEqual(h.statuses, [408]);
  t.is(ct.state, 'terminated');
  t.false(summary(sender.sent).includes('CANCEL'));
  t.is(layer.stats().timers, 0);
  t.is(layer.stats().counters.timeouts, 1);
});

test('a 2xx after timer C fired is still passed to the TU', (t) => {
  const { h, ct, layer, runFor } = start(UDP, { timerC: 10_000 });
  layer.receive(reply(ct.request, 180, 'b1'), env());
  runFor(10_000);
  t.deepEqual(h.statuses, [180, 408]);
  layer.receive(reply(ct.request, 200, 'b1'), env());
  t.deepEqual(h.statuses, [180, 408, 200]);
  t.is(ct.state, 'accepted');
});

test('cancel() before any provisional waits for one (RFC 3261 9.1); Reason header carried', (t) => {
  const { sender, ct, layer } = start();
  ct.cancel('SIP;cause=200;text="Call completed elsewhere"');
  ct.cancel(); // once only
  t.deepEqual(summary(sender.take()), ['INVITE']);
  layer.receive(reply(ct.request, 100), env());
  const out = sender.take();
  t.deepEqual(summary(out), ['CANCEL']);
  t.is(out[0]!.msg.get('reason'), 'SIP;cause=200;text="Call completed elsewhere"');
});

test('cancel() after a final response does nothing', (t) => {
  const { sender, ct, layer } = start();
  layer.receive(reply(ct.request, 404, 'x'), env());
  sender.take();
  ct.cancel();
  t.is(sender.sent.length, 0);
});

test('no final 64*T1 after CANCEL: the INVITE transaction gives up with 408', (t) => {
  const { sender, h, ct, layer, runFor, advance } = start();
  layer.receive(reply(ct.request, 180, 'b1'), env());
  ct.cancel();
  const cancel = sender.sent.find((s) => s.msg.method === 'CANCEL')!.msg;
  layer.receive(reply(cancel, 200, 'b1'), env());
  runFor(31_990);
  t.deepEqual(h.statuses, [180]);
  advance(10);
  t.deepEqual(h.statuses, [180, 408]);
  t.is(ct.state, 'terminated');
  runFor(10_000);
  t.is(layer.stats().clientTransactions, 0);
  t.is(layer.stats().timers, 0);
});

test('transport error reports a local 503 and terminates', (t) => {
  const s = setup();
  const h = new RecordingHandler();
  s.sender.failNext = new Error('no route');
  const ct = s.layer.request(request('INVITE'), UDP, h);
  s.sender.flushErrors();
  t.deepEqual(h.statuses, [503]);
  t.true(h.got[0]!.local);
  t.is(ct.state, 'terminated');
  t.is(s.layer.stats().timers, 0);
  t.is(s.layer.stats().clientTransactions, 0);
});

test('ACK cannot start a client transaction', (t) => {
  const { layer } = setup();
  t.throws(() => layer.request(request('ACK'), UDP, new RecordingHandler()), { instanceOf: TypeError });
});
