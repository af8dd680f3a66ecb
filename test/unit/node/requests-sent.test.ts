// The node wires tm's onRequestSent and onDrop to its metrics: the CANCEL and the non-2xx ACK that
// tm builds itself are in sip_requests_sent_total, and tm's drops in sip_drops_total.

import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import { startRig, sipRequest } from './rig.js';

const UAS = 'sip:bob@192.0.2.99:5080';

test('a cancelled call: INVITE, CANCEL and the ACK for the 487 are each counted once, by method', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.stop());
  const invite = rig.receive(sipRequest('INVITE', UAS)).find((m) => m.isRequest && m.method === 'INVITE')!;
  t.truthy(invite, 'the INVITE was relayed');
  rig.receive(buildResponse(invite, 180, { toTag: 'uas-1' }).serialize());
  const afterCancel = rig.receive(sipRequest('CANCEL', UAS, { CSeq: '1 CANCEL' }));
  t.true(afterCancel.some((m) => m.isRequest && m.method === 'CANCEL'), 'tm sent its own CANCEL downstream');
  const after487 = rig.receive(buildResponse(invite, 487, { toTag: 'uas-1' }).serialize());
  t.true(after487.some((m) => m.isRequest && m.method === 'ACK'), 'tm ACKed the 487 hop by hop');
  t.deepEqual(rig.node.metrics.counters().sip_requests_sent_total, { INVITE: 1, CANCEL: 1, ACK: 1 });
});

test('a drop in tm is in sip_drops_total under its reason', async (t) => {
  const rig = await startRig();
  t.teardown(() => rig.stop());
  const res = buildResponse(rig.receive(sipRequest('OPTIONS', UAS)).find((m) => m.isRequest)!, 200);
  res.remove('via');
  t.false(rig.node.tm.sendResponseStateless(res));
  t.is(rig.node.metrics.counters().sip_drops_total.unroutable_response, 1);
});
