// Two real nodes with the real cluster bus on loopback: a request that lands on the node
// that does not own its Call-ID is forwarded over the authenticated bus, once, and answered
// by the owner to the original sender (what test/sim checks at scale with in-memory buses).

import test from 'ava';
import { createSocket } from 'node:dgram';
import { ownerOf } from '../../src/anycast/rendezvous.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/log.js';
import { Node } from '../../src/node/node.js';
import { parseMessage } from '../../src/sip/parser.js';

const yaml = (id: number) => `node: { id: ${id}, branch_secret: e2e-anycast-branch-secret }
listen: [{ id: sip, transport: udp, address: 127.0.0.1, port: 0 }]
admin: { enabled: false }
cluster:
  secret: e2e-anycast-cluster-secret
  bus: { address: 127.0.0.1, port: 0 }
  heartbeat_interval: 50
  failure_timeout: 300
  rejoin_after: 100
`;

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a REGISTER landing on the wrong node crosses the bus once and the owner answers it', async (t) => {
  const a = new Node(parseConfig(yaml(1), 'a.yaml'), { log: silentLogger() });
  const b = new Node(parseConfig(yaml(2), 'b.yaml'), { log: silentLogger() });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  await a.start();
  await b.start();
  b.cluster!.bus.addPeer({ id: 1, address: '127.0.0.1', port: a.cluster!.bus.port });
  await waitFor(() => a.cluster!.membership.upNodes().length === 2 && b.cluster!.membership.upNodes().length === 2, 5000, 'both up');

  let i = 0;
  while (ownerOf(`reg-${i}@e2e`, [1, 2]) !== 2) i++;
  const callId = `reg-${i}@e2e`;
  const port = a.transport.sockets()[0]!.port;
  const client = createSocket('udp4');
  t.teardown(() => client.close());
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  const got = new Promise<{ text: string; from: number }>((resolve) => client.once('message', (m, rinfo) => resolve({ text: m.toString('latin1'), from: rinfo.port })));
  const me = client.address().port;
  client.send(
    Buffer.from(
      `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-e2e-${i}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:alice@example.com>;tag=e2e\r\nTo: <sip:alice@example.com>\r\nCall-ID: ${callId}\r\nCSeq: 1 REGISTER\r\n` +
        `Contact: <sip:alice@127.0.0.1:${me}>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n`,
      'latin1',
    ),
    port,
    '127.0.0.1',
  );
  const res = await got;
  const msg = parseMessage(Buffer.from(res.text, 'latin1'));
  t.is(msg.status, 200);
  t.is(msg.callId, callId);
  t.is(res.from, b.transport.sockets()[0]!.port, 'answered by the owner');
  t.is(a.anycast!.metrics.snapshot().sent.forward, 1);
  t.is(b.anycast!.metrics.snapshot().forwarded.initial, 1);
  t.is(a.tm.stats().serverTransactions, 0);
  t.is(b.location!.size, 1);
});
