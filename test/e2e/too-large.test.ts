// Message size against a real node process (bin/anysip.mjs start): RFC 3261 18.1.1 (a large
// request bound for UDP goes over TCP), and 513 Message Too Large for what cannot be carried.

import test, { type ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { StreamFramer } from '../../src/transport/stream-framer.js';
import { explain, freePort, requireSipp, sipp, spawnNode, type NodeProcess } from './harness.js';
import { tcpPhone } from './tcp-phone.js';

requireSipp();

function yaml(port: number, admin: number, uasPort: number): string {
  return `
node: { id: 9, branch_secret: e2e-secret-0123456789 }
listen:
  - { id: udp, transport: udp, address: 127.0.0.1, port: ${port} }
  - { id: tcp, transport: tcp, address: 127.0.0.1, port: ${port} }
routes:
  - match: { user_prefix: service }
    targets: ["sip:127.0.0.1:${uasPort}"]
admin: { enabled: true, address: 127.0.0.1, port: ${admin} }
log: { level: info }
`;
}

async function start(t: ExecutionContext, uasPort = 9): Promise<{ node: NodeProcess; port: number; admin: number }> {
  const port = await freePort();
  const admin = await freePort();
  const node = await spawnNode(yaml(port, admin, uasPort), admin);
  t.teardown(() => node.stop());
  return { node, port, admin };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, get: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

function header(msg: string, name: string): string[] {
  return [...msg.matchAll(new RegExp(`^${name}:\\s*(.*)$`, 'gim'))].map((m) => m[1]!.trim());
}

function statusOf(msg: string): number {
  return msg.startsWith('SIP/2.0 ') ? Number(msg.slice(8, 11)) : 0;
}

/** A UDP phone: what it receives, and a way to send. */
async function udpPhone(t: ExecutionContext) {
  const socket = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((r) => socket.close(() => r())).catch(() => {}));
  const got: string[] = [];
  socket.on('message', (m) => got.push(m.toString('latin1')));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, got, port: socket.address().port };
}

function invite(callerPort: number, port: number, callId: string, body: string): string {
  return (
    `INVITE sip:service@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${callerPort};rport;branch=z9hG4bK-${callId}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a-${callId}\r\nTo: <sip:service@127.0.0.1>\r\nCall-ID: ${callId}\r\n` +
    `CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:${callerPort}>\r\nContent-Type: application/sdp\r\n` +
    `Content-Length: ${body.length}\r\n\r\n${body}`
  );
}

/** An SDP of about `bytes` bytes: many codecs and candidates, as WebRTC gateways and video phones send. */
function largeSdp(bytes: number): string {
  let sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
  for (let i = 0; sdp.length < bytes; i++) sdp += `a=candidate:${i} 1 udp 2122260223 127.0.0.1 ${40000 + i} typ host generation 0\r\n`;
  return sdp;
}

/** Metric value from GET /metrics (0 when absent). */
async function metric(admin: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

test.serial('seed case: an INVITE with a 4 KB SDP from a UDP phone reaches the next hop over TCP with a TCP Via, and the 200 comes back', async (t) => {
  // The next hop listens on UDP and TCP on the same port, like any RFC 3261 element must.
  const uasPort = await freePort();
  const tcpSeen: string[] = [];
  const udpSeen: string[] = [];
  const conns: net.Socket[] = [];
  const server = net.createServer((s) => {
    conns.push(s);
    s.on('error', () => {});
    const framer = new StreamFramer();
    framer.onMessage = (m) => {
      const msg = m.toString('latin1');
      tcpSeen.push(msg);
      if (!msg.startsWith('INVITE ')) return;
      const vias = header(msg, 'Via').map((v) => `Via: ${v}\r\n`).join('');
      const rr = header(msg, 'Record-Route').map((v) => `Record-Route: ${v}\r\n`).join('');
      s.write(
        `SIP/2.0 200 OK\r\n${vias}${rr}From: ${header(msg, 'From')[0]}\r\nTo: ${header(msg, 'To')[0]};tag=uas-1\r\n` +
          `Call-ID: ${header(msg, 'Call-ID')[0]}\r\nCSeq: ${header(msg, 'CSeq')[0]}\r\nContact: <sip:uas@127.0.0.1:${uasPort}>\r\nContent-Length: 0\r\n\r\n`,
      );
    };
    s.on('data', (d: Buffer) => framer.push(d));
  });
  await new Promise<void>((r) => server.listen(uasPort, '127.0.0.1', r));
  const uasUdp = dgram.createSocket('udp4');
  uasUdp.on('message', (m) => udpSeen.push(m.toString('latin1')));
  await new Promise<void>((r) => uasUdp.bind(uasPort, '127.0.0.1', () => r()));
  t.teardown(() => {
    conns.forEach((c) => c.destroy());
    server.close();
    uasUdp.close();
  });

  const { port, admin } = await start(t, uasPort);
  const caller = await udpPhone(t);
  const request = invite(caller.port, port, 'seed-1', largeSdp(4000));
  t.true(request.length > 4000);
  caller.socket.send(Buffer.from(request, 'latin1'), port, '127.0.0.1');

  const ok = await until('the 200 at the UDP caller', () => caller.got.find((m) => statusOf(m) === 200));
  const relayed = tcpSeen.find((m) => m.startsWith('INVITE '));
  t.truthy(relayed, 'the INVITE reached the next hop over TCP');
  t.regex(header(relayed!, 'Via')[0]!, /^SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK\./, 'our Via says TCP');
  t.is(relayed!.slice(relayed!.indexOf('\r\n\r\n') + 4), request.slice(request.indexOf('\r\n\r\n') + 4), 'the SDP intact');
  t.false(udpSeen.some((m) => m.startsWith('INVITE ')), 'nothing over UDP');
  t.is(header(ok, 'Via').length, 1, 'the 200 has only the caller\'s Via left');
  t.is(header(ok, 'Call-ID')[0], 'seed-1');

  // The Record-Route was built for UDP: the ACK, small, goes to the next hop over UDP again.
  const route = header(ok, 'Record-Route').map((v) => `Route: ${v}\r\n`).join('');
  t.notRegex(route, /transport=tcp/);
  caller.socket.send(
    Buffer.from(
      `ACK sip:uas@127.0.0.1:${uasPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${caller.port};rport;branch=z9hG4bK-seed-ack\r\n${route}` +
        `Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a-seed-1\r\nTo: <sip:service@127.0.0.1>;tag=uas-1\r\nCall-ID: seed-1\r\n` +
        `CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
      'latin1',
    ),
    port,
    '127.0.0.1',
  );
  await until('the ACK at the next hop over UDP', () => udpSeen.find((m) => m.startsWith('ACK ')));
  t.is(await metric(admin, 'anysip_mtu_udp_to_tcp'), 1);
});

test.serial('a 65,504-byte INVITE over UDP gets 513 Message Too Large (not 500): relayed, it would exceed max_message_size', async (t) => {
  const { port, admin } = await start(t);
  const caller = await udpPhone(t);
  // "Content-Length: 0" has one digit, the real one five.
  const body = 'x'.repeat(65_504 - invite(caller.port, port, 'huge-1', '').length - 4);
  const request = invite(caller.port, port, 'huge-1', body);
  t.is(request.length, 65_504);
  caller.socket.send(Buffer.from(request, 'latin1'), port, '127.0.0.1');
  const final = await until('a final response', () => caller.got.find((m) => statusOf(m) >= 200));
  t.is(statusOf(final), 513, final.slice(0, 200));
  t.regex(final.split('\r\n')[0]!, /^SIP\/2\.0 513 Message Too Large \(\d+ bytes, max 65535\)$/);
  t.is(header(final, 'Call-ID')[0], 'huge-1');
  t.is(await metric(admin, 'anysip_mtu_too_large'), 1);
  t.false(caller.got.some((m) => statusOf(m) === 500));
});

test.serial('over TCP, a Content-Length over the maximum gets 513, then the connection is closed; another phone keeps calling', async (t) => {
  const { node, port } = await start(t);
  const bob = await tcpPhone({ user: 'bob', localAddress: '127.0.0.3', port });
  t.teardown(() => bob.close());
  t.is(await bob.register(), 200);

  const bad = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.4' });
  t.teardown(() => bad.destroy());
  bad.on('error', () => {});
  await new Promise<void>((r) => bad.once('connect', () => r()));
  const got: string[] = [];
  const framer = new StreamFramer();
  framer.onMessage = (m) => got.push(m.toString('latin1'));
  bad.on('data', (d: Buffer) => framer.push(d));
  let ended = false;
  bad.on('end', () => (ended = true));
  bad.write(
    `MESSAGE sip:bob@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.4:${bad.localPort};branch=z9hG4bK-big-tcp\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:mallory@127.0.0.1>;tag=m1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: big-tcp\r\nCSeq: 1 MESSAGE\r\n` +
      `Content-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n${'y'.repeat(2000)}`,
  );
  await until('the node to half-close the connection', () => (ended ? true : undefined));
  t.is(got.length, 1, 'one answer before the FIN');
  t.regex(got[0]!.split('\r\n')[0]!, /^SIP\/2\.0 513 Message Too Large \(\d+ bytes, max 65535\)$/);
  t.is(header(got[0]!, 'Call-ID')[0], 'big-tcp');
  // The rest of the body may still be on its way: the node reads and drops it.
  bad.end('z'.repeat(10_000));

  const s = await node.status();
  t.is(s.transport.connectionsClosed.too_large, 1, JSON.stringify(s.transport));
  t.is(s.transport.framingErrors, 0);
  t.is(s.counters.sip_drops_total.too_large, 1);
  t.is(bob.answered, 0, 'the MESSAGE was not relayed');
  t.is(await bob.register(), 200, 'the other phone re-registers on its connection');
  const call = await sipp({ scenario: 'uac-call.xml', remote: `127.0.0.1:${port}`, localPort: await freePort(), service: 'bob' }).done;
  t.is(call.code, 0, explain(call));
  t.is(bob.answered, 1);
  t.is(bob.byes, 1);
});
