// Interop with an independent implementation: two stacks of the npm `sip`
// (publicAddress 'localhost': the package takes any hop naming its own host for
// one of its flow URIs, and everything here is 127.0.0.1)
// package (their own parser and transactions) call each other through anysip.

import test from 'ava';
import { createRequire } from 'node:module';
import { freePort, startNode } from './harness.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sip = require('sip') as any;

interface PeerMessage {
  method?: string;
  status?: number;
  uri?: string;
  headers: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

test('a call between two `sip` package stacks through anysip: INVITE, 200, ACK, BYE', async (t) => {
  const proxyPort = await freePort();
  const uasPort = await freePort();
  const uacPort = await freePort();
  const node = await startNode(`
node: { id: 10 }
listen: [{ transport: udp, address: 127.0.0.1, port: ${proxyPort} }]
routes:
  - match: { user_prefix: peer }
    targets: ["sip:127.0.0.1:${uasPort}"]
admin: { enabled: false }
log: { level: error }
`);
  const seenByUas: string[] = [];
  let uasRequestUri = '';
  const uas = sip.create({ udp: true, tcp: false, address: '127.0.0.1', port: uasPort, publicAddress: 'localhost' }, (req: PeerMessage) => {
    seenByUas.push(req.method!);
    if (req.method === 'INVITE') {
      uasRequestUri = req.uri!;
      const res = sip.makeResponse(req, 200, 'OK');
      res.headers.to.params.tag = 'uas-tag';
      res.headers.contact = [{ uri: `sip:peer@127.0.0.1:${uasPort}` }];
      // makeResponse does not copy Record-Route; a UAS must (RFC 3261 12.1.1).
      res.headers['record-route'] = req.headers['record-route'];
      uas.send(res);
    } else if (req.method === 'BYE') {
      uas.send(sip.makeResponse(req, 200, 'OK'));
    }
  });
  const uac = sip.create({ udp: true, tcp: false, address: '127.0.0.1', port: uacPort, publicAddress: 'localhost' }, () => {});
  try {
    const invite = {
      method: 'INVITE',
      uri: 'sip:peer@example.com',
      headers: {
        to: { uri: 'sip:peer@example.com' },
        from: { uri: 'sip:caller@example.com', params: { tag: 'uac-tag' } },
        'call-id': `peer-${Date.now()}`,
        cseq: { method: 'INVITE', seq: 1 },
        contact: [{ uri: `sip:caller@127.0.0.1:${uacPort}` }],
        route: [{ uri: `sip:127.0.0.1:${proxyPort};lr` }],
        'max-forwards': 70,
      },
    };
    const answer = await new Promise<PeerMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no final response')), 5000);
      uac.send(invite, (res: PeerMessage) => {
        if (res.status! >= 200) {
          clearTimeout(timer);
          resolve(res);
        }
      });
    });
    t.is(answer.status, 200, `${answer.status} ${(answer as { reason?: string }).reason}`);
    t.is(uasRequestUri, 'sip:peer@example.com', 'the next-hop route kept the Request-URI');
    const routeSet = ((answer.headers['record-route'] ?? []) as Array<{ uri: string }>).map((r) => ({ uri: r.uri })).reverse();
    t.is(routeSet.length, 1, 'the proxy record-routed');
    const inDialog = (method: string, seq: number) => ({
      method,
      uri: answer.headers.contact[0].uri,
      headers: {
        to: answer.headers.to,
        from: invite.headers.from,
        'call-id': invite.headers['call-id'],
        cseq: { method, seq },
        route: routeSet.map((r) => ({ ...r })),
        'max-forwards': 70,
      },
    });
    uac.send(inDialog('ACK', 1));
    const byeAnswer = await new Promise<PeerMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no BYE response')), 5000);
      uac.send(inDialog('BYE', 2), (res: PeerMessage) => {
        if (res.status! >= 200) {
          clearTimeout(timer);
          resolve(res);
        }
      });
    });
    t.is(byeAnswer.status, 200);
    t.deepEqual(seenByUas, ['INVITE', 'ACK', 'BYE']);
  } finally {
    uac.destroy();
    uas.destroy();
    await node.stop();
  }
});
