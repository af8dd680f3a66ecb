import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import type { Destination } from '../../../src/transport/types.js';
import { TransactionLayer } from '../../../src/tm/layer.js';
import { TimerWheel } from '../../../src/tm/timer-wheel.js';
import { DEFAULT_TIMERS } from '../../../src/tm/types.js';
import { RecordingSender, RecordingUser, request, setup } from './helpers.js';

const UDP: Destination = { transport: 'udp', address: '203.0.113.5', port: 5060 };

function node(nodeId: number) {
  const clock = { now: () => 0 };
  const sender = new RecordingSender(clock);
  const layer = new TransactionLayer({
    nodeId, branchSecret: 'secret', timers: DEFAULT_TIMERS, clock, wheel: new TimerWheel(), sender, user: new RecordingUser(),
  });
  return { layer, sender };
}

test('sendStateless: deterministic branch from the incoming branch, same on every node, no transaction', (t) => {
  const a = node(1);
  const b = node(2);
  const ba = a.layer.sendStateless(request('ACK', { branch: 'z9hG4bKack1', toTag: 'x' }), UDP);
  const bb = b.layer.sendStateless(request('ACK', { branch: 'z9hG4bKack1', toTag: 'x' }), UDP);
  t.is(ba, bb);
  t.regex(ba, /^z9hG4bK\.s/);
  t.not(ba, a.layer.sendStateless(request('ACK', { branch: 'z9hG4bKack2', toTag: 'x' }), UDP));
  const sent = a.sender.sent[0]!.msg;
  t.is(sent.topVia.branch, ba);
  t.is(sent.vias.length, 2);
  t.deepEqual(a.layer.decodeBranch(ba), { nodeId: 0, valid: true, stateless: true });
  t.false(a.layer.ownsBranch(ba));
  t.deepEqual(a.layer.stats().clientTransactions, 0);
  t.is(a.layer.stats().timers, 0);
});

test('sendStateless: RFC 2543 requests are keyed on their identity (INVITE, CANCEL, ACK share it)', (t) => {
  const a = node(1);
  const x = a.layer.sendStateless(request('INVITE', { branch: '' }), UDP);
  const y = a.layer.sendStateless(request('CANCEL', { branch: '' }), UDP);
  const z = a.layer.sendStateless(request('INVITE', { branch: '', cseq: 2 }), UDP);
  t.is(x, y);
  t.not(x, z);
});

test('sendResponseStateless: to where the top Via says', (t) => {
  const { layer, sender } = setup();
  const req = request('OPTIONS', { host: '10.1.1.1:5090;received=198.51.100.9;rport=6000' });
  layer.sendResponseStateless(buildResponse(req, 200));
  t.deepEqual(sender.sent[0]!.dest, { transport: 'udp', address: '198.51.100.9', port: 6000 });
  t.is(sender.sent[0]!.msg.status, 200);
});
