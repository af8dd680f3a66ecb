// DESIGN "Sockets": a request that changes side is record-routed twice, and the
// dialog's later requests leave from the socket that faces their next hop.

import test from 'ava';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { parseMessage } from '../../src/sip/parser.js';
import { buildResponse } from '../../src/sip/response.js';
import type { SipMessage } from '../../src/sip/message.js';
import { freePort, startNode } from './harness.js';

/** A Record-Route entry without its dialog tag (`;d=`, 8 MAC chars: src/proxy/flow-token.ts routeTag), which every entry must carry. */
function untagged(rr: string): string {
  const m = /;d=[A-Za-z0-9_-]{8}(?=[;>])/.exec(rr);
  if (!m) throw new Error(`no dialog tag in ${rr}`);
  return rr.replace(m[0], '');
}

class Peer {
  private queue: Array<[SipMessage, RemoteInfo]> = [];
  private waiter: (() => void) | undefined;
  private constructor(readonly sock: Socket) {
    sock.on('message', (m, rinfo) => {
      const msg = parseMessage(m);
      if (msg.status === 100) return;
      this.queue.push([msg, rinfo]);
      this.waiter?.();
    });
  }
  static async open(): Promise<Peer> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    return new Peer(s);
  }
  get port(): number {
    return this.sock.address().port;
  }
  async next(): Promise<[SipMessage, RemoteInfo]> {
    for (let i = 0; i < 50 && this.queue.length === 0; i++) {
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 100);
      });
    }
    const item = this.queue.shift();
    if (!item) throw new Error('nothing received');
    return item;
  }
  send(text: string, port: number): void {
    this.sock.send(Buffer.from(text, 'latin1'), port, '127.0.0.1');
  }
}

/** A node with two UDP sockets on loopback: `edge` (anycast role) and `core` (unicast role). */
async function sidedNode(id: number, extra = '') {
  const edgePort = await freePort();
  const corePort = await freePort();
  const node = await startNode(`
node: { id: ${id} }
listen:
  - { id: edge, transport: udp, address: 127.0.0.1, port: ${edgePort}, role: anycast }
  - { id: core, transport: udp, address: 127.0.0.1, port: ${corePort}, role: unicast }
${extra}
admin: { enabled: false }
log: { level: error }
`);
  return { node, edgePort, corePort };
}

test('a dialog that changes side: double Record-Route, and the BYE leaves from the core socket', async (t) => {
  const caller = await Peer.open();
  const callee = await Peer.open();
  const { node, edgePort, corePort } = await sidedNode(11, `
routes:
  - targets: ["sip:127.0.0.1:${callee.port}"]
    socket: core
`);
  try {
    const head = (method: string, cseq: number, extra: string[]) =>
      [
        `${method} sip:callee@example.com SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-sides-${method}`,
        'From: <sip:caller@example.com>;tag=c1',
        `Call-ID: sides-1`,
        `CSeq: ${cseq} ${method}`,
        'Max-Forwards: 70',
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    caller.send(head('INVITE', 1, ['To: <sip:callee@example.com>', `Contact: <sip:caller@127.0.0.1:${caller.port}>`]), edgePort);
    const [invite, from] = await callee.next();
    t.is(from.port, corePort, 'the INVITE leaves from the core socket');
    const rr = invite.getAll('record-route');
    t.deepEqual(rr.map(untagged), [`<sip:127.0.0.1:${corePort};lr>`, `<sip:127.0.0.1:${edgePort};lr>`]);
    const ok = buildResponse(invite, 200, {
      toTag: 'e1',
      headers: [...rr.map((v): [string, string] => ['Record-Route', v]), ['Contact', `<sip:callee@127.0.0.1:${callee.port}>`]],
    });
    callee.send(ok.toString(), corePort);
    const [answer] = await caller.next();
    t.is(answer.status, 200);

    // The caller's route set is the Record-Route reversed; its BYE reaches the edge socket.
    const routes = answer.getAll('record-route').reverse().map((v) => `Route: ${v}`);
    const bye = head('BYE', 2, ['To: <sip:callee@example.com>;tag=e1', ...routes]).replace(
      'BYE sip:callee@example.com',
      `BYE sip:callee@127.0.0.1:${callee.port}`,
    );
    caller.send(bye, edgePort);
    const [gotBye, byeFrom] = await callee.next();
    t.is(gotBye.method, 'BYE');
    t.is(byeFrom.port, corePort, 'the BYE leaves from the core socket its Route named');
    t.false(gotBye.has('route'), 'both of our Route entries were removed');
  } finally {
    caller.sock.close();
    callee.sock.close();
    await node.stop();
  }
});

test("an in-dialog request from the anycast side with another node's Route left goes out from the unicast socket", async (t) => {
  const caller = await Peer.open();
  const otherNode = await Peer.open(); // stands for another cluster node's unicast Record-Route entry
  const { node, edgePort, corePort } = await sidedNode(12);
  try {
    const bye = [
      'BYE sip:callee@192.0.2.50:5060 SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-offanycast`,
      // The anycast entry is ours too (every node holds the anycast address); the next one is another node's.
      `Route: <sip:127.0.0.1:${edgePort};lr>, <sip:127.0.0.1:${otherNode.port};lr>`,
      'From: <sip:caller@example.com>;tag=c1',
      'To: <sip:callee@example.com>;tag=e1',
      'Call-ID: offanycast-1',
      'CSeq: 2 BYE',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    caller.send(bye, edgePort);
    const [got, from] = await otherNode.next();
    t.is(got.method, 'BYE');
    t.is(from.port, corePort, 'leaves from the unicast socket, not the shared anycast address');
    t.deepEqual(got.getAll('route'), [`<sip:127.0.0.1:${otherNode.port};lr>`]);
  } finally {
    caller.sock.close();
    otherNode.sock.close();
    await node.stop();
  }
});

test('record_route_address anycast: the core side is named by the anycast address, and each direction still leaves by the right socket', async (t) => {
  const caller = await Peer.open();
  const callee = await Peer.open();
  const { node, edgePort, corePort } = await sidedNode(13, `
proxy: { record_route_address: anycast }
routes:
  - targets: ["sip:127.0.0.1:${callee.port}"]
    socket: core
`);
  const msg = (start: string, via: number, cseq: string, extra: string[]) =>
    [start, `Via: SIP/2.0/UDP 127.0.0.1:${via};branch=z9hG4bK-any-${cseq.replace(' ', '')}`, 'Call-ID: any-rr-1', `CSeq: ${cseq}`, 'Max-Forwards: 70', ...extra, 'Content-Length: 0', '', ''].join('\r\n');
  try {
    caller.send(msg('INVITE sip:callee@example.com SIP/2.0', caller.port, '1 INVITE', ['From: <sip:caller@example.com>;tag=c1', 'To: <sip:callee@example.com>', `Contact: <sip:caller@127.0.0.1:${caller.port}>`]), edgePort);
    const [invite, from] = await callee.next();
    t.is(from.port, corePort);
    const rr = invite.getAll('record-route');
    t.deepEqual(rr.map(untagged), [`<sip:127.0.0.1:${edgePort};lr;s=core>`, `<sip:127.0.0.1:${edgePort};lr>`], 'both entries name the anycast address');

    // Callee hangs up: its route set is the Record-Route as is; it reaches the anycast address (any node).
    callee.send(
      msg(`BYE sip:caller@127.0.0.1:${caller.port} SIP/2.0`, callee.port, '1 BYE', ['From: <sip:callee@example.com>;tag=e1', 'To: <sip:caller@example.com>;tag=c1', ...rr.map((v) => `Route: ${v}`)]),
      edgePort,
    );
    const [bye1, from1] = await caller.next();
    t.is(bye1.method, 'BYE');
    t.is(from1.port, edgePort, "toward the caller it leaves from the anycast side");

    // Caller hangs up (another dialog direction): route set reversed; it leaves from the core socket.
    caller.send(
      msg(`BYE sip:callee@127.0.0.1:${callee.port} SIP/2.0`, caller.port, '2 BYE', ['From: <sip:caller@example.com>;tag=c1', 'To: <sip:callee@example.com>;tag=e1', ...[...rr].reverse().map((v) => `Route: ${v}`)]),
      edgePort,
    );
    const [bye2, from2] = await callee.next();
    t.is(bye2.method, 'BYE');
    t.is(from2.port, corePort, 'toward the callee it leaves from the core (unicast) socket');
  } finally {
    caller.sock.close();
    callee.sock.close();
    await node.stop();
  }
});
