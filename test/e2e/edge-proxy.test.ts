// The node as an RFC 5626 edge proxy in front of another registrar: a REGISTER
// for a foreign domain is relayed with a Path entry whose flow token names the
// phone's TCP connection, and the registrar's INVITE, routed back through that
// Path, reaches the phone on that connection (it listens nowhere else).

import test from 'ava';
import { createSocket } from 'node:dgram';
import { freePort, startNode } from './harness.js';
import { tcpPhone } from './tcp-phone.js';

function header(msg: string, name: string): string[] {
  return [...msg.matchAll(new RegExp(`^${name}:\\s*(.*)$`, 'gim'))].map((m) => m[1]!.trim());
}

/** A home registrar over UDP: answers REGISTERs with 200 and keeps them; resolves INVITE transactions it starts. */
async function homeRegistrar() {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const registers: string[] = [];
  const finals = new Map<string, (code: number) => void>();
  socket.on('message', (buf, rinfo) => {
    const msg = buf.toString('latin1');
    if (msg.startsWith('SIP/2.0 ')) {
      const code = Number(msg.slice(8, 11));
      if (code >= 200) finals.get(header(msg, 'Call-ID')[0]!)?.(code);
      return;
    }
    if (!msg.startsWith('REGISTER ')) return;
    registers.push(msg);
    const res =
      `SIP/2.0 200 OK\r\n${header(msg, 'Via').map((v) => `Via: ${v}\r\n`).join('')}From: ${header(msg, 'From')[0]}\r\n` +
      `To: ${header(msg, 'To')[0]};tag=home\r\nCall-ID: ${header(msg, 'Call-ID')[0]}\r\nCSeq: ${header(msg, 'CSeq')[0]}\r\n` +
      `Contact: ${header(msg, 'Contact')[0]};expires=300\r\nContent-Length: 0\r\n\r\n`;
    socket.send(Buffer.from(res, 'latin1'), rinfo.port, rinfo.address);
  });
  const port = socket.address().port;
  return {
    port,
    registers,
    close: () => socket.close(),
    /** INVITE `ruri` along `route` through the node at `nodePort`; resolves with the final status. */
    invite(nodePort: number, ruri: string, route: string, callId: string): Promise<number> {
      const text =
        `INVITE ${ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-home-${callId}\r\nRoute: ${route}\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:caller@home.example>;tag=hc\r\nTo: <${ruri}>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:caller@127.0.0.1:${port}>\r\nContent-Length: 0\r\n\r\n`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`INVITE ${callId}: no final response`)), 3000);
        finals.set(callId, (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        socket.send(Buffer.from(text, 'latin1'), nodePort, '127.0.0.1');
      });
    },
  };
}

test('edge proxy: an RFC 5626 REGISTER relayed to another registrar carries Path with ;ob and a flow token, and calls come back on the connection', async (t) => {
  const home = await homeRegistrar();
  const sip = await freePort();
  const tcp = await freePort();
  const node = await startNode(`node: { id: 1, name: edge }
listen:
  - { id: sip, transport: udp, address: 127.0.0.1, port: ${sip} }
  - { id: sip-tcp, transport: tcp, address: 127.0.0.1, port: ${tcp} }
proxy: { domains: [example.com] }
routes:
  - { match: { domain: home.example }, targets: ['sip:127.0.0.1:${home.port}'] }
admin: { enabled: false }
log: { level: fatal }
`);
  const outbound = await tcpPhone({
    user: 'edge',
    localAddress: '127.0.0.1',
    port: tcp,
    domain: 'home.example',
    supported: 'path, outbound',
    contactParams: ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-00000000e1e1>";reg-id=1',
  });
  const plain = await tcpPhone({ user: 'plain', localAddress: '127.0.0.1', port: tcp, domain: 'home.example', supported: 'path' });
  t.teardown(async () => {
    outbound.close();
    plain.close();
    home.close();
    await node.stop();
  });

  t.is(await outbound.register(), 200);
  t.is(await plain.register(), 200);
  t.is(node.location!.size, 0, 'our registrar kept nothing: the home registrar did');
  const [first, second] = home.registers;
  const path = header(first!, 'Path');
  t.is(path.length, 1, 'one Path entry, ours');
  t.regex(path[0]!, new RegExp(`^<sip:[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+@127\\.0\\.0\\.1:${sip};lr;ob>$`), 'a flow token, on the socket facing the registrar, with ob');
  t.deepEqual(header(second!, 'Path'), [], 'proxy.add_path: outbound adds none to a REGISTER that does not ask for outbound');

  // The home registrar calls the phone at its Contact (where nothing listens) along the Path.
  const contact = /<([^>]+)>/.exec(header(first!, 'Contact')[0]!)![1]!;
  t.is(await home.invite(sip, contact, path[0]!, 'edge-call-1'), 200);
  t.is(outbound.answered, 1, 'the INVITE came on the connection the phone registered on');
  t.is(node.transport.stats().tcpConnections, 2, 'no connection was dialled to the Contact');

  // The phone's connection goes: the flow has failed (RFC 5626 5.3).
  outbound.close();
  const start = Date.now();
  while (node.transport.stats().tcpConnections !== 1 && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 20));
  t.is(await home.invite(sip, contact, path[0]!, 'edge-call-2'), 430);
});
