// Hostile TCP traffic against a real node process (bin/anysip.mjs start):
// slowloris, a connection flood, and a peer that never reads. The node must
// close what is hostile, count it in /status, and keep serving real phones.

import test from 'ava';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { explain, freePort, requireSipp, sipp, spawnNode, type NodeProcess } from './harness.js';
import { tcpPhone } from './tcp-phone.js';

requireSipp();

function yaml(port: number, admin: number, transport: string, extra = ''): string {
  return `
node: { id: 5, branch_secret: e2e-secret-0123456789 }
listen:
  - { id: udp, transport: udp, address: 127.0.0.1, port: ${port} }
  - { id: tcp, transport: tcp, address: 127.0.0.1, port: ${port} }
admin: { enabled: true, address: 127.0.0.1, port: ${admin} }
log: { level: info }
transport: ${transport}
${extra}`;
}

async function start(
  t: import('ava').ExecutionContext,
  transport: string,
  extra = '',
  nofile?: number,
): Promise<{ node: NodeProcess; port: number }> {
  const port = await freePort();
  const admin = await freePort();
  const node = await spawnNode(yaml(port, admin, transport, extra), admin, { nofile });
  t.teardown(() => node.stop());
  return { node, port };
}

function open(port: number, localAddress: string): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => {});
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with ms from now until `s` closes, or -1 after `ms`. */
function closedWithin(s: net.Socket, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(0);
    const timer = setTimeout(() => resolve(-1), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.serial('slowloris: one byte per second and half messages are closed by the 2 s deadline; a normal client is served', async (t) => {
  const { node, port } = await start(t, '{ message_deadline: 2, tcp_idle_timeout: 120 }');
  const request = Buffer.from(
    'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5999;branch=z9hG4bK-slow\r\nFrom: <sip:a@x>;tag=1\r\n' +
      'To: <sip:b@x>\r\nCall-ID: slow\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
  );
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const timers: NodeJS.Timeout[] = [];
  t.teardown(() => timers.forEach(clearInterval));
  for (let i = 0; i < 10; i++) {
    const drip = await open(port, '127.0.0.2');
    sockets.push(drip);
    let k = 0;
    drip.write(request.subarray(k, ++k));
    timers.push(setInterval(() => !drip.destroyed && drip.write(request.subarray(k, ++k)), 1000));
    const half = await open(port, '127.0.0.2');
    sockets.push(half);
    half.write(request.subarray(0, request.length >> 1));
  }
  const t0 = Date.now();
  const phone = await tcpPhone({ user: 'carol', localAddress: '127.0.0.3', port });
  t.teardown(() => phone.close());
  t.is(await phone.register(), 200, 'a normal client is answered while the slow ones hang');
  const closes = await Promise.all(sockets.map((s) => closedWithin(s, 5000)));
  const worst = Date.now() - t0;
  t.true(closes.every((ms) => ms >= 0), `all 20 closed by the node (${closes.join(',')})`);
  t.true(worst <= 2000 + 2000, `closed within deadline + slack: ${worst} ms`);
  t.is(await phone.register(), 200, 'and is still answered after');
  const s = await node.status();
  t.is(s.transport.connectionsClosed.message_deadline, 20, JSON.stringify(s.transport));
  t.is(s.transport.tcpConnections, 1, 'only the phone remains');
});

test.serial('flood: connections over the per-source and total caps are refused; a TCP phone re-registers and takes a call', async (t) => {
  const { node, port } = await start(t, '{ max_connections_per_source: 40, max_connections: 120 }');
  const phone = await tcpPhone({ user: 'bob', localAddress: '127.0.0.3', port });
  t.teardown(() => phone.close());
  t.is(await phone.register(), 200);

  const flood: net.Socket[] = [];
  t.teardown(() => flood.forEach((s) => s.destroy()));
  const wave = async (source: string, n: number): Promise<number> => {
    const opened = await Promise.all(Array.from({ length: n }, () => open(port, source).catch(() => null)));
    const live = opened.filter((s): s is net.Socket => s !== null);
    flood.push(...live);
    const closed = await Promise.all(live.map((s) => closedWithin(s, 700)));
    return closed.filter((ms) => ms >= 0).length + (n - live.length);
  };
  const refusedA = await wave('127.0.0.2', 100);
  t.is(refusedA, 60, '40 of 100 from one source admitted');
  const refusedOthers = (await wave('127.0.0.5', 40)) + (await wave('127.0.0.6', 40)) + (await wave('127.0.0.7', 40));
  t.is(refusedOthers, 41, '120 in total: 40 + the phone + 40 + 39, the rest refused');

  // During the flood: the phone keeps re-REGISTERing on its connection and takes a call (over UDP from the caller).
  const regs: number[] = [];
  const reRegister = (async () => {
    for (let i = 0; i < 6; i++) {
      regs.push(await phone.register());
      await sleep(300);
    }
  })();
  const call = await sipp({ scenario: 'uac-call.xml', remote: `127.0.0.1:${port}`, localPort: await freePort(), service: 'bob' }).done;
  await reRegister;
  t.is(call.code, 0, explain(call));
  t.is(phone.answered, 1);
  t.is(phone.byes, 1);
  t.deepEqual(regs, [200, 200, 200, 200, 200, 200]);

  const s = await node.status();
  t.like(s.transport, { connectionsRefused: { per_source: 60, total: 41 }, inboundConnections: 120 });
  const lines = node
    .logs()
    .split('\n')
    .filter((l) => l.includes('stream connection refused'))
    .map((l) => JSON.parse(l) as { source: string; level: number });
  t.is(lines.filter((l) => l.source === '127.0.0.2').length, 1, 'one refusal line per source per interval');
  t.true(lines.every((l) => l.level === 30), 'at info');
});

test.serial('a peer that never reads: the node closes its connection at the send-queue bound; memory stays bounded', async (t) => {
  const deaf: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.pause(); // never reads
    s.on('error', () => {});
    deaf.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    deaf.forEach((s) => s.destroy());
    server.close();
  });
  const deafPort = (server.address() as net.AddressInfo).port;
  const { node, port } = await start(
    t,
    '{ max_send_queue: 262144, send_stall_timeout: 5 }',
    `routes:\n  - match: { user_prefix: deaf }\n    targets: ["sip:127.0.0.1:${deafPort};transport=tcp"]\n`,
  );
  const caller = await open(port, '127.0.0.4');
  t.teardown(() => caller.destroy());
  caller.on('data', () => {}); // the caller reads its 100 Trying / errors
  const body = 'x'.repeat(60_000);
  let maxQueue = 0;
  let maxRss = 0;
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${node.pid}/status`, 'latin1'))?.[1] ?? 0) * 1024;
  const rss0 = rss();
  let sent = 0;
  for (let i = 0; i < 400; i++) {
    caller.write(
      `INVITE sip:deaf@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.4:${caller.localPort};branch=z9hG4bK-deaf-${i}\r\n` +
        `From: <sip:a@x>;tag=${i}\r\nTo: <sip:deaf@x>\r\nCall-ID: deaf-${i}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n` +
        `Contact: <sip:a@127.0.0.4:${caller.localPort};transport=tcp>\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    sent++;
    if (i % 5 === 4) {
      await sleep(10);
      const s = await node.status();
      maxQueue = Math.max(maxQueue, s.transport.sendQueueBytes);
      maxRss = Math.max(maxRss, rss());
      if (s.transport.connectionsClosed.queue_overflow > 0) break;
    }
  }
  let s = await node.status();
  for (let i = 0; i < 40 && s.transport.connectionsClosed.queue_overflow + s.transport.connectionsClosed.stalled === 0; i++) {
    await sleep(250);
    s = await node.status();
  }
  const closed = s.transport.connectionsClosed;
  t.true(closed.queue_overflow + closed.stalled >= 1, `sent ${sent} x 60 KB; ${JSON.stringify(s.transport)}`);
  t.true(s.transport.sendErrorsByReason.queue_overflow + s.transport.sendErrorsByReason.stalled >= 1);
  t.true(maxQueue <= 262144 + 65536, `user-space send queue peaked at ${maxQueue} bytes`);
  t.log(`sent ${sent} INVITEs of 60 KB; queue peak ${maxQueue} B; RSS ${Math.round(rss0 / 2 ** 20)} -> ${Math.round(maxRss / 2 ** 20)} MiB; closes ${JSON.stringify(closed)}`);
  t.false(caller.destroyed, 'the caller, who reads, keeps its connection');
});

test.serial('default caps from the fd limit: a flood of 480 connections cannot exhaust a node limited to 512 descriptors', async (t) => {
  // 512 descriptors: caps 384 in total (512 less a reserve of 128), 38 per source.
  const { node, port } = await start(t, '{}', '', 512);
  const phone = await tcpPhone({ user: 'dave', localAddress: '127.0.0.3', port });
  t.teardown(() => phone.close());
  t.is(await phone.register(), 200);
  const flood: net.Socket[] = [];
  t.teardown(() => flood.forEach((s) => s.destroy()));
  for (let src = 10; src < 22; src++) {
    const opened = await Promise.all(Array.from({ length: 40 }, () => open(port, `127.0.0.${src}`).catch(() => null)));
    flood.push(...opened.filter((s): s is net.Socket => s !== null));
  }
  await sleep(500);
  const s = await node.status(); // the admin API still gets a descriptor
  t.like(s.transport, { inboundConnections: 384 });
  // Sources one after another: ten fill 38 each (2 refused per source), the eleventh gets the last 3.
  t.deepEqual(s.transport.connectionsRefused, { per_source: 10 * 2, total: 37 + 40 }, 'all of 480 + the phone - 384');
  t.is(s.transport.connectionsAccepted, 384);
  t.is(await phone.register(), 200, 'the established phone re-registers');
  const call = await sipp({ scenario: 'uac-call.xml', remote: `127.0.0.1:${port}`, localPort: await freePort(), service: 'dave' }).done;
  t.is(call.code, 0, explain(call));
  t.is(phone.answered, 1);
  t.false(/EMFILE/.test(node.logs()), 'no descriptor exhaustion');
});
