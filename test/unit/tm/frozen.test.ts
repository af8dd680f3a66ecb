import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import { FrozenRequest } from '../../../src/tm/frozen.js';
import type { Destination } from '../../../src/transport/types.js';
import { env, RecordingHandler, reply, request, setup } from './helpers.js';

const UDP: Destination = { transport: 'udp', address: '203.0.113.5', port: 5060 };

test('FrozenRequest: the live message until freeze(), then its text parsed again once, same bytes', (t) => {
  const req = request('INVITE');
  req.setBody(Buffer.from('v=0\r\n', 'latin1'), 'application/sdp');
  const before = req.serialize().toString('latin1');
  const f = new FrozenRequest(req);
  t.is(f.message, req);
  f.freeze();
  const thawed = f.message;
  t.not(thawed, req, 'a new object after the freeze');
  t.is(thawed.serialize().toString('latin1'), before);
  t.is(thawed.method, 'INVITE');
  t.is(thawed.body.toString('latin1'), 'v=0\r\n');
  t.is(f.message, thawed, 'parsed once, then kept');
  f.freeze(); // frozen again, from the thawed copy
  t.not(f.message, thawed);
  t.is(f.message.serialize().toString('latin1'), before);
});

test('FrozenRequest: freeze(wire) keeps the bytes given, not a new serialization', (t) => {
  const req = request('OPTIONS');
  const wire = req.serialize();
  const f = new FrozenRequest(req);
  f.freeze(wire);
  t.is(f.message.serialize().toString('latin1'), wire.toString('latin1'));
});

test('an INVITE server transaction in Accepted keeps its request as text, re-read on demand', (t) => {
  const s = setup();
  const inv = request('INVITE');
  s.layer.receive(inv, env());
  const st = s.user.requests[0]!.server!;
  t.is(st.request, inv, 'the live request while proceeding');
  const text = inv.serialize().toString('latin1');
  st.respond(buildResponse(inv, 200, { toTag: 'srv' }));
  t.is(st.state, 'accepted');
  t.not(st.request, inv, 'kept as text once it lingers');
  t.is(st.request.serialize().toString('latin1'), text);
  t.is(st.request.callId, inv.callId);
});

test('an INVITE client transaction with its final response re-reads its request from the wire text', (t) => {
  const s = setup();
  const h = new RecordingHandler();
  const ct = s.layer.request(request('INVITE', { branch: 'z9hG4bKupstream' }), UDP, h);
  const sent = s.sender.sent[0]!.msg.serialize().toString('latin1');
  const live = ct.request;
  s.layer.receive(reply(live, 486, 'b1'), env());
  t.is(ct.state, 'completed');
  t.not(ct.request, live);
  t.is(ct.request.serialize().toString('latin1'), sent);
  // A retransmitted 486 still gets the same ACK (built before the freeze, kept as wire).
  s.sender.take();
  s.layer.receive(reply(live, 486, 'b1'), env());
  t.is(s.sender.sent.length, 1);
  t.is(s.sender.sent[0]!.msg.method, 'ACK');
});
