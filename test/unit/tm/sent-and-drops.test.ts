// TmEvents.onRequestSent and onDrop: every request that leaves through tm is reported once, by
// method (tm's own CANCEL and non-2xx ACK included, retransmissions not); every drop has a reason.

import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import { TM_DROP_REASONS, type TmEvents } from '../../../src/tm/context.js';
import type { Destination } from '../../../src/transport/types.js';
import { env, RecordingHandler, reply, request, setup, summary } from './helpers.js';

const UDP: Destination = { transport: 'udp', address: '203.0.113.5', port: 5060 };

function counting(timers = {}) {
  const sent: Record<string, number> = {};
  const drops: Record<string, number> = {};
  const events: TmEvents = {
    onRequestSent: (m) => void (sent[m] = (sent[m] ?? 0) + 1),
    onDrop: (r) => void (drops[r] = (drops[r] ?? 0) + 1),
  };
  return { ...setup(timers, events), sent, drops };
}

test('cancel(): the INVITE, tm’s own CANCEL and its ACK for the 487 are each counted once; retransmissions are not', (t) => {
  const { layer, sender, sent, runFor } = counting();
  const ct = layer.request(request('INVITE', { branch: 'z9hG4bKup' }), UDP, new RecordingHandler());
  runFor(1600); // timer A: two INVITE retransmissions
  layer.receive(reply(ct.request, 180, 'b1'), env());
  ct.cancel();
  runFor(600); // timer E: one CANCEL retransmission
  const cancel = sender.sent.find((s) => s.msg.method === 'CANCEL')!.msg;
  layer.receive(reply(cancel, 200, 'b1'), env());
  const r487 = reply(ct.request, 487, 'b1');
  layer.receive(r487, env());
  layer.receive(reply(ct.request, 487, 'b1'), env()); // retransmitted 487: the ACK goes again, uncounted
  t.deepEqual(summary(sender.sent), ['INVITE', 'INVITE', 'INVITE', 'CANCEL', 'CANCEL', 'ACK', 'ACK']);
  t.deepEqual(sent, { INVITE: 1, CANCEL: 1, ACK: 1 });
  t.is(layer.stats().counters.retransmissionsSent, 3);
  t.is(layer.stats().counters.responseRetransmissions, 1);
});

test('timer C: the CANCEL tm sends on its own is counted', (t) => {
  const { layer, sent, runFor } = counting({ timerC: 10_000 });
  const ct = layer.request(request('INVITE', { branch: 'z9hG4bKup' }), { transport: 'tcp', address: '2001:db8::5', port: 5060 }, new RecordingHandler());
  layer.receive(reply(ct.request, 180, 'b1'), env('tcp'));
  runFor(10_000);
  t.deepEqual(sent, { INVITE: 1, CANCEL: 1 });
});

test('a 2xx gets no ACK from tm, so only the INVITE counts; stateless sends count by method', (t) => {
  const { layer, sent } = counting();
  const ct = layer.request(request('INVITE', { branch: 'z9hG4bKup' }), UDP, new RecordingHandler());
  layer.receive(reply(ct.request, 200, 'b1'), env());
  layer.sendStateless(request('ACK', { branch: 'z9hG4bKack', toTag: 'b1' }), UDP);
  layer.request(request('OPTIONS', { branch: 'z9hG4bKopt' }), UDP, new RecordingHandler());
  t.deepEqual(sent, { INVITE: 1, ACK: 1, OPTIONS: 1 });
});

test('every drop path counts its own reason, and the list of reasons is complete', (t) => {
  const { layer, user, drops } = counting();
  const noVia = request('OPTIONS');
  noVia.remove('via');
  t.notThrows(() => layer.receive(noVia, env()));
  const badCseq = buildResponse(request('OPTIONS'), 200);
  badCseq.set('CSeq', 'garbage');
  t.notThrows(() => layer.receive(badCseq, env()));
  const unaddressable = buildResponse(request('OPTIONS'), 200);
  unaddressable.remove('via');
  t.false(layer.sendResponseStateless(unaddressable));
  t.true(layer.sendResponseStateless(buildResponse(request('OPTIONS'), 200)));
  t.is(user.requests.length, 0);
  t.is(user.strays.length, 0);
  t.deepEqual(drops, { unmatchable_request: 1, unmatchable_response: 1, unroutable_response: 1 });
  t.deepEqual(Object.keys(drops).sort(), [...TM_DROP_REASONS].sort());
});
