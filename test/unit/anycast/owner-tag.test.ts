// Requests a node sends carry its owner tag, so any node can send their replies home:
// the relayed request, and the CANCEL and non-2xx ACK that tm builds for it.

import test from 'ava';
import { Registry } from 'prom-client';
import { AnycastMetrics } from '../../../src/anycast/metrics.js';
import { BranchCodec } from '../../../src/tm/branch.js';
import { buildResponse } from '../../../src/sip/response.js';
import { RecordingHandler, env, request, setup } from '../tm/helpers.js';

test('INVITE, its CANCEL and its non-2xx ACK all carry the sending node in a branch that verifies', (t) => {
  const { layer, sender } = setup();
  const codec = new BranchCodec('secret', 1); // any node of the cluster decodes with the shared secret
  const ct = layer.request(request('INVITE'), { transport: 'udp', address: '192.0.2.9', port: 5060 }, new RecordingHandler());
  const [invite] = sender.take();
  const tag = codec.decode(invite!.msg.topVia.branch);
  t.like(tag, { nodeId: 7, valid: true, stateless: false });

  layer.receive(buildResponse(invite!.msg, 180, { toTag: 'x' }), env());
  ct.cancel();
  const [cancel] = sender.take();
  t.is(cancel!.msg.method, 'CANCEL');
  t.is(cancel!.msg.topVia.branch, invite!.msg.topVia.branch);

  layer.receive(buildResponse(invite!.msg, 487, { toTag: 'x' }), env());
  const ack = sender.take().find((s) => s.msg.method === 'ACK');
  t.is(ack?.msg.topVia.branch, invite!.msg.topVia.branch);
  t.like(codec.decode(ack?.msg.topVia.branch), { nodeId: 7, valid: true });
});

test('anycast statistics are exported on the node registry', async (t) => {
  const registry = new Registry();
  const drops: string[] = [];
  const m = new AnycastMetrics(registry, (r) => drops.push(r));
  m.forwarded('reply');
  m.forwarded('reply');
  m.forwarded('cancel');
  m.sent('forward');
  m.secondChance();
  m.query('timeout');
  m.latency(0.0003);
  m.drop('owner_down');
  const text = await registry.metrics();
  t.regex(text, /anysip_anycast_forwarded_total\{kind="reply"\} 2/);
  t.regex(text, /anysip_anycast_forwarded_total\{kind="cancel"\} 1/);
  t.regex(text, /anysip_anycast_bus_sent_total\{type="forward"\} 1/);
  t.regex(text, /anysip_anycast_second_chance_total 1/);
  t.regex(text, /anysip_anycast_queries_total\{result="timeout"\} 1/);
  t.regex(text, /anysip_anycast_forward_latency_seconds_bucket\{le="0.0005"\} 1/);
  t.deepEqual(drops, ['owner_down']);
});
