// RFC 5626 (outbound) at the registrar and in the proxy's target set.

import test from 'ava';
import { contactGroups } from '../../../src/proxy/targets.js';
import { parseUri } from '../../../src/sip/uri.js';
import { env, newRegistrar, register } from './helpers.js';

const INSTANCE = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
const outbound: [string, string][] = [['Supported', 'path, outbound']];
const ALICE = 'sip:alice@example.com';

test('an outbound REGISTER gets Require: outbound, and Flow-Timer when configured', (t) => {
  const r = newRegistrar({ flow_timer: 120 });
  const res = r.handle(register([`<sip:alice@192.0.2.10:5062;ob>;${INSTANCE};reg-id=1`], { extra: outbound }), env, 0).response;
  t.is(res.status, 200);
  t.deepEqual(res.getAll('require'), ['outbound']);
  t.is(res.get('flow-timer'), '120');
  const plain = newRegistrar().handle(register(['<sip:alice@192.0.2.10:5062>'], { extra: outbound }), env, 0).response;
  t.is(plain.get('require'), undefined, 'no reg-id: not an outbound registration');
  const noTimer = newRegistrar().handle(register([`<sip:alice@192.0.2.10:5062;ob>;${INSTANCE};reg-id=1`], { extra: outbound }), env, 0).response;
  t.is(noTimer.get('flow-timer'), undefined, 'flow_timer 0: none');
});

test('a new Contact with the same instance and reg-id replaces that flow; another reg-id is a second flow', (t) => {
  const r = newRegistrar();
  r.handle(register([`<sip:alice@198.51.100.1:5062;ob>;${INSTANCE};reg-id=1`], { extra: outbound, callId: 'flow1' }), env, 0);
  r.handle(register([`<sip:alice@198.51.100.2:5062;ob>;${INSTANCE};reg-id=2`], { extra: outbound, callId: 'flow2' }), env, 0);
  t.is(r.lookup(ALICE, 0).length, 2);
  const moved = r.handle(register([`<sip:alice@198.51.100.9:6000;ob>;${INSTANCE};reg-id=1`], { extra: outbound, callId: 'flow1b' }), env, 0);
  t.is(moved.response.status, 200);
  t.deepEqual(r.lookup(ALICE, 0).map((b) => b.contact).sort(), ['sip:alice@198.51.100.2:5062;ob', 'sip:alice@198.51.100.9:6000;ob']);
});

test('reg-id without +sip.instance is ignored (RFC 5626 6)', (t) => {
  const r = newRegistrar();
  r.handle(register(['<sip:alice@198.51.100.1:5062>;reg-id=1'], { extra: outbound }), env, 0);
  r.handle(register(['<sip:alice@198.51.100.2:5062>;reg-id=1'], { extra: outbound }), env, 0);
  const b = r.lookup(ALICE, 0);
  t.is(b.length, 2, 'no flow identity, so no replacement');
  t.true(b.every((x) => x.regId === undefined));
});

test('through an edge proxy whose Path lacks ;ob, an outbound REGISTER gets 439; with ;ob it is taken', (t) => {
  const r = newRegistrar();
  const contact = `<sip:alice@192.0.2.10:5062;ob>;${INSTANCE};reg-id=1`;
  const lacking = r.handle(register([contact], { extra: [...outbound, ['Path', '<sip:edge.example.net;lr>']] }), env, 0).response;
  t.is(lacking.status, 439);
  t.is(lacking.reason, 'First Hop Lacks Outbound Support');
  t.is(r.lookup(ALICE, 0).length, 0, 'nothing written');
  // Path values are prepended hop by hop: the last one is the first hop's.
  const ok = r.handle(register([contact], { extra: [...outbound, ['Path', '<sip:core.example.net;lr>, <sip:edge.example.net;lr;ob>']] }), env, 0).response;
  t.is(ok.status, 200);
});

test('the target set holds one flow per instance, the most recently refreshed, the others as its alternates', (t) => {
  const r = newRegistrar();
  r.handle(register([`<sip:alice@198.51.100.1:5062;ob>;${INSTANCE};reg-id=1`], { extra: outbound, callId: 'f1' }), env, 0);
  r.handle(register([`<sip:alice@198.51.100.2:5062;ob>;${INSTANCE};reg-id=2`], { extra: outbound, callId: 'f2' }), env, 5000);
  r.handle(register(['<sip:alice@203.0.113.7>'], { callId: 'desk' }), env, 0);
  const groups = contactGroups(r, parseUri(ALICE), 6000);
  t.is(groups.length, 1);
  const targets = groups[0]!;
  t.is(targets.length, 2, 'the desk phone and one flow of the instance');
  const flow = targets.find((x) => x.flow)!;
  t.is(flow.uri, 'sip:alice@198.51.100.2:5062;ob', 'the flow refreshed last');
  t.deepEqual(flow.alternates?.map((a) => a.uri), ['sip:alice@198.51.100.1:5062;ob']);
  t.is(flow.destination?.address, env.remote.address, 'a flow is reached where its REGISTER came from');
  t.is(targets.find((x) => !x.flow)!.alternates, undefined);
});
