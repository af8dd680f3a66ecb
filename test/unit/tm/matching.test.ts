import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import { env, request, setup, summary } from './helpers.js';

test('CANCEL: own non-INVITE server transaction, linked to the INVITE server transaction it cancels', (t) => {
  const { layer, sender, user } = setup();
  const inv = request('INVITE');
  layer.receive(inv, env());
  const ist = user.requests[0]!.server!;
  ist.respond(buildResponse(inv, 180, { toTag: 'srv' }));
  const cancel = request('CANCEL');
  layer.receive(cancel, env());
  t.is(user.cancels.length, 1);
  const { cancel: cst, invite } = user.cancels[0]!;
  t.is(invite, ist);
  t.not(cst, ist);
  t.is(cst.request.method, 'CANCEL');
  t.is(user.requests.length, 1); // CANCEL is not an ordinary request for the TU
  t.is(layer.stats().serverTransactions, 2);
  // The TU answers both.
  cst.respond(buildResponse(cancel, 200, { toTag: 'srv' }));
  invite!.respond(buildResponse(inv, 487, { toTag: 'srv' }));
  sender.take();
  // A CANCEL retransmission gets the 200 again and does not reach the TU.
  layer.receive(request('CANCEL'), env());
  t.deepEqual(summary(sender.take()), ['200']);
  t.is(user.cancels.length, 1);
  t.is(layer.findInviteServer(cancel), ist);
});

test('CANCEL for an unknown INVITE: its own transaction, invite undefined', (t) => {
  const { layer, user } = setup();
  layer.receive(request('CANCEL', { branch: 'z9hG4bKnothere' }), env());
  t.is(user.cancels.length, 1);
  t.is(user.cancels[0]!.invite, undefined);
});

test('CANCEL with a different branch or sent-by does not match the INVITE', (t) => {
  const { layer, user } = setup();
  layer.receive(request('INVITE'), env());
  layer.receive(request('CANCEL', { branch: 'z9hG4bKother' }), env());
  layer.receive(request('CANCEL', { host: '203.0.113.9:5060' }), env());
  t.is(user.cancels.length, 2);
  t.is(user.cancels[0]!.invite, undefined);
  t.is(user.cancels[1]!.invite, undefined);
});

test('same branch, different method: separate transactions (17.2.3)', (t) => {
  const { layer, user } = setup();
  layer.receive(request('INVITE'), env());
  layer.receive(request('OPTIONS'), env());
  t.is(user.requests.length, 2);
  t.is(layer.stats().serverTransactions, 2);
});

test('sent-by default port: "host" and "host:5060" are the same sent-by', (t) => {
  const { layer, user } = setup();
  layer.receive(request('INVITE', { host: 'ua.example.com' }), env());
  layer.receive(request('INVITE', { host: 'UA.example.com:5060' }), env());
  t.is(user.requests.length, 1);
});

test('RFC 2543 fallback (no magic cookie): retransmissions, ACK and CANCEL match', (t) => {
  const { layer, user, sender, runFor } = setup();
  const inv = request('INVITE', { branch: '' });
  layer.receive(inv, env());
  const st = user.requests[0]!.server!;
  layer.receive(request('INVITE', { branch: '' }), env()); // retransmission
  t.is(user.requests.length, 1);
  // A different Call-ID, CSeq, From tag, R-URI or top Via is another transaction.
  layer.receive(request('INVITE', { branch: '', callId: 'other' }), env());
  layer.receive(request('INVITE', { branch: '', cseq: 2 }), env());
  layer.receive(request('INVITE', { branch: '', uri: 'sip:carol@example.com' }), env());
  layer.receive(request('INVITE', { branch: '', host: '203.0.113.9:5060' }), env());
  t.is(user.requests.length, 5);
  // CANCEL finds the INVITE.
  layer.receive(request('CANCEL', { branch: '' }), env());
  t.is(user.cancels[0]!.invite, st);
  // ACK matches only with the To tag of the final response sent.
  st.respond(buildResponse(inv, 486, { toTag: 'srv' }));
  sender.take();
  layer.receive(request('ACK', { branch: '', toTag: 'wrong' }), env());
  t.is(st.state, 'completed');
  t.is(user.requests.length, 6); // the non-matching ACK went to the TU
  layer.receive(request('ACK', { branch: '', toTag: 'srv' }), env());
  t.is(st.state, 'confirmed');
  t.is(user.requests.length, 6);
  runFor(5000);
  t.is(st.state, 'terminated');
});

test('RFC 2543 branch (not a cookie) is part of the top Via compared', (t) => {
  const { layer, user } = setup();
  layer.receive(request('INVITE', { branch: '1234.1' }), env());
  layer.receive(request('INVITE', { branch: '1234.1' }), env());
  layer.receive(request('INVITE', { branch: '1234.2' }), env());
  t.is(user.requests.length, 2);
});

test('messages without a parsable Via / CSeq are counted and dropped, never thrown', (t) => {
  const drops: string[] = [];
  const { layer, user } = setup({}, { onDrop: (r) => void drops.push(r) });
  const bad = request('OPTIONS');
  bad.remove('via');
  t.notThrows(() => layer.receive(bad, env()));
  const badRes = buildResponse(request('OPTIONS'), 200);
  badRes.set('CSeq', 'garbage');
  t.notThrows(() => layer.receive(badRes, env()));
  t.is(user.requests.length, 0);
  t.is(user.strays.length, 0);
  t.deepEqual(drops, ['unmatchable_request', 'unmatchable_response']);
});

test('responses matching no client transaction are strays for the TU', (t) => {
  const { layer, user } = setup();
  layer.receive(buildResponse(request('INVITE', { branch: 'z9hG4bKnotours' }), 200, { toTag: 'a' }), env());
  layer.receive(buildResponse(request('INVITE', { branch: '' }), 200, { toTag: 'a' }), env());
  t.is(user.strays.length, 2);
  t.is(layer.stats().counters.strayResponses, 2);
});
