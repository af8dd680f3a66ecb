// One location table for a cluster of three real nodes on loopback: a user
// registered through any node is reachable through every node, with fresh
// Call-IDs for the calls; a restarted node takes the table before it is up and
// then connects the same calls; a phone registered over TCP is called through
// a node that does not hold its connection, and the call uses that connection.

import test from 'ava';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/log.js';
import { Node } from '../../src/node/node.js';
import { runLocation } from '../../src/cli/location.js';
import { allUp, clusterSection, freePort, waitFor } from './harness.js';
import { tcpPhone } from './tcp-phone.js';
import { udpPhone, type UdpPhone } from './udp-phone.js';

interface Ports {
  sip: number;
  tcp: number;
  bus: number;
}

function yaml(id: number, ports: Ports[], extra = ''): string {
  const p = ports[id - 1]!;
  return `node: { id: ${id}, name: loc-${id} }${extra ? `\n${extra}` : ''}
listen:
  - { id: sip, transport: udp, address: 127.0.0.1, port: ${p.sip} }
  - { id: sip-tcp, transport: tcp, address: 127.0.0.1, port: ${p.tcp} }
admin: { enabled: false }
log: { level: fatal }
${clusterSection(id, ports.map((q) => ({ address: '127.0.0.1', bus: q.bus })), 'e2e-location-cluster-secret', '  rejoin_after: 100\n')}`;
}

async function cluster(n: number, extra = ''): Promise<{ ports: Ports[]; nodes: Node[]; start(id: number): Promise<Node> }> {
  const ports: Ports[] = [];
  for (let i = 0; i < n; i++) ports.push({ sip: await freePort(), tcp: await freePort(), bus: await freePort() });
  const nodes: Node[] = [];
  const start = async (id: number) => {
    const node = new Node(parseConfig(yaml(id, ports, extra), `loc-${id}.yaml`), { log: silentLogger() });
    await node.start();
    nodes[id - 1] = node;
    return node;
  };
  for (let id = 1; id <= n; id++) await start(id);
  return { ports, nodes, start };
}


test('a user registered through any node is reached through every node; a restarted node syncs before it is up', async (t) => {
  const c = await cluster(3);
  t.teardown(async () => {
    for (const x of c.nodes) await x.stop();
  });
  await waitFor(() => allUp(c.nodes, 3), 5000, 'three nodes up');

  const users: UdpPhone[] = [];
  for (let i = 0; i < 12; i++) users.push(await udpPhone(`user${i}`));
  const caller = await udpPhone('caller');
  t.teardown(() => {
    for (const u of [...users, caller]) u.close();
  });
  for (const [i, u] of users.entries()) t.is(await u.register(c.ports[i % 3]!.sip), 200, `REGISTER ${u.user} through node ${(i % 3) + 1}`);
  await waitFor(() => c.nodes.every((x) => x.location!.size === 12), 2000, 'every node holds 12 bindings');

  const callAll = async (label: string) => {
    const codes: string[] = [];
    for (const u of users) for (const via of [0, 1, 2]) codes.push(`${u.user} via ${via + 1}: ${await caller.call(c.ports[via]!.sip, u.user)}`);
    t.deepEqual(codes.filter((s) => !s.endsWith(': 200')), [], `${label}: every call connects`);
  };
  await callAll('before the restart');
  t.is(users.reduce((n, u) => n + u.answered, 0), 36);

  // Restart node 2: it must take the table from a peer before it is up.
  await c.nodes[1]!.stop();
  await waitFor(() => [c.nodes[0]!, c.nodes[2]!].every((x) => x.cluster!.membership.upNodes().length === 2), 3000, 'node 2 down');
  const restarted = await c.start(2);
  await waitFor(() => allUp(c.nodes, 3), 5000, 'three nodes up again');
  t.is(restarted.location!.size, 12, 'the restarted node holds every binding');
  const sync = restarted.locationReplica!.sync;
  t.is(sync.state, 'done');
  t.true(sync.donor === 1 || sync.donor === 3);
  t.is(sync.received, 12);
  t.is((restarted.status().location as { bindings: number }).bindings, 12);
  await callAll('after the restart');

  // An unregistered user gets 404 through every node.
  t.is(await users[0]!.register(c.ports[2]!.sip, 0), 200);
  await waitFor(() => c.nodes.every((x) => x.location!.size === 11), 2000, 'the removal everywhere');
  for (const via of [0, 1, 2]) t.is(await caller.call(c.ports[via]!.sip, 'user0'), 404, `user0 via ${via + 1}`);
});

test('a phone registered over TCP is called through a node that does not hold its connection, over that connection', async (t) => {
  const c = await cluster(3);
  t.teardown(async () => {
    for (const x of c.nodes) await x.stop();
  });
  await waitFor(() => allUp(c.nodes, 3), 5000, 'three nodes up');
  const phone = await tcpPhone({ user: 'tcpuser', localAddress: '127.0.0.1', port: c.ports[0]!.tcp });
  t.teardown(() => phone.close());
  t.is(await phone.register(), 200);
  await waitFor(() => c.nodes.every((x) => x.location!.size === 1), 2000, 'the binding everywhere');
  const b = c.nodes[2]!.location!.lookup('sip:tcpuser@127.0.0.1')[0]!;
  t.is(b.source.node, 1, 'the binding names the node that holds the connection');
  const connectsBefore = c.nodes.map((x) => x.transport.stats().tcpConnections);

  const caller = await udpPhone('caller', '127.0.0.1');
  t.teardown(() => caller.close());
  for (const via of [1, 2]) t.is(await caller.call(c.ports[via]!.sip, 'tcpuser'), 200, `call through node ${via + 1}`);
  t.is(phone.answered, 2);
  // The 2xx ACKs follow the flow token in our Record-Route back onto that connection too.
  await waitFor(() => phone.acks === 2, 2000, 'both ACKs on the phone\'s connection');
  const connectsAfter = c.nodes.map((x) => x.transport.stats().tcpConnections);
  t.deepEqual(connectsAfter, connectsBefore, 'no node dialled a new connection to the phone');

  // The phone's connection goes (its binding stays until it expires): callers get 480 at once
  // through every node, whether it holds the connection or relays to the one that held it.
  phone.close();
  await waitFor(() => c.nodes[0]!.transport.stats().tcpConnections === 0, 2000, 'node 1 sees the connection close');
  for (const via of [0, 1, 2]) {
    const started = Date.now();
    t.is(await caller.call(c.ports[via]!.sip, 'tcpuser'), 480, `call through node ${via + 1}`);
    t.true(Date.now() - started < 2000, `480 through node ${via + 1} at once, not at timer B`);
  }
  t.deepEqual(c.nodes.map((x) => x.transport.stats().tcpConnections), [0, 0, 0], 'nobody dialled the phone');
});

test('a UDP phone that registered its private address from behind a NAT is called where its REGISTER came from, through every node', async (t) => {
  const c = await cluster(3);
  t.teardown(async () => {
    for (const x of c.nodes) await x.stop();
  });
  await waitFor(() => allUp(c.nodes, 3), 5000, 'three nodes up');
  // Its Via and Contact say 127.0.0.2:5999 (nobody listens there); its packets come from 127.0.0.1.
  const phone = await udpPhone('natted', 'example.com', '127.0.0.2:5999');
  const caller = await udpPhone('caller');
  t.teardown(() => {
    phone.close();
    caller.close();
  });
  t.is(await phone.register(c.ports[0]!.sip), 200);
  await waitFor(() => c.nodes.every((x) => x.location!.size === 1), 2000, 'the binding everywhere');
  t.true(c.nodes[2]!.location!.lookup('sip:natted@example.com')[0]!.source.nat, 'every node knows it is behind a NAT');
  for (const via of [0, 1, 2]) t.is(await caller.call(c.ports[via]!.sip, 'natted'), 200, `call through node ${via + 1}`);
  t.is(phone.answered, 3);
});

test('OPTIONS keep-alives: one node of three pings a phone behind NAT, the phone answers, and the answer is counted, not dropped', async (t) => {
  const c = await cluster(3, 'registrar: { keepalive_interval: 1, keepalive_method: options }');
  t.teardown(async () => {
    for (const x of c.nodes) await x.stop();
  });
  await waitFor(() => allUp(c.nodes, 3), 5000, 'three nodes up');
  const phone = await udpPhone('pinged', 'example.com', '127.0.0.2:5999');
  t.teardown(() => phone.close());
  t.is(await phone.register(c.ports[1]!.sip), 200);
  const counters = () => c.nodes.map((x) => x.locationModule!.keepalives!.counters);
  await waitFor(() => counters().reduce((n, k) => n + k.keepalives_answered, 0) >= 2, 4000, 'two answered keep-alives');
  const sent = counters().map((k) => k.keepalives_sent);
  t.is(sent.filter((n) => n > 0).length, 1, `one node has the duty (sent per node: ${sent})`);
  t.true(phone.options >= 2, 'the phone got them where its REGISTER came from');
  t.deepEqual(
    c.nodes.map((x) => x.metrics.counters().sip_drops_total.stray_response ?? 0),
    [0, 0, 0],
    'no answer was dropped as a stray response',
  );
});

test('RFC 5626: one phone on two flows through two nodes is rung on one; when that flow is gone the call takes the other', async (t) => {
  const c = await cluster(3);
  t.teardown(async () => {
    for (const x of c.nodes) await x.stop();
  });
  await waitFor(() => allUp(c.nodes, 3), 5000, 'three nodes up');
  const instance = ';+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"';
  const flow = async (node: number, regId: number) => {
    const p = await tcpPhone({ user: 'obuser', localAddress: '127.0.0.1', port: c.ports[node]!.tcp, contactParams: `${instance};reg-id=${regId}`, supported: 'outbound' });
    t.teardown(() => p.close());
    t.is(await p.register(), 200, `flow ${regId} through node ${node + 1}`);
    return p;
  };
  const first = await flow(0, 1);
  await new Promise((r) => setTimeout(r, 1100)); // the second flow is refreshed a second later: it is tried first
  const second = await flow(1, 2);
  await waitFor(() => c.nodes.every((x) => x.location!.size === 2), 2000, 'both flows everywhere');
  const caller = await udpPhone('caller', '127.0.0.1');
  t.teardown(() => caller.close());

  t.is(await caller.call(c.ports[2]!.sip, 'obuser'), 200);
  t.deepEqual([first.answered, second.answered], [0, 1], 'one flow of the instance rung, the newest');

  second.close();
  await waitFor(() => c.nodes[1]!.transport.stats().tcpConnections === 0, 2000, 'node 2 sees the second flow close');
  for (const via of [2, 1, 0]) t.is(await caller.call(c.ports[via]!.sip, 'obuser'), 200, `call through node ${via + 1} fails over to the first flow`);
  t.is(first.answered, 3);
  first.close();
  await waitFor(() => c.nodes[0]!.transport.stats().tcpConnections === 0, 2000, 'node 1 sees the first flow close');
  t.is(await caller.call(c.ports[2]!.sip, 'obuser'), 430, 'no flow left: 430 Flow Failed');
});

test('anysip location show and dump, and /metrics, tell what the table holds', async (t) => {
  const sip = await freePort();
  const node = new Node(
    parseConfig(`node: { id: 1 }\nlisten: [{ transport: udp, address: 127.0.0.1, port: ${sip} }]\nadmin: { enabled: true, address: 127.0.0.1, port: 0 }\nlog: { level: fatal }\n`, 'cli.yaml'),
    { log: silentLogger() },
  );
  await node.start();
  t.teardown(() => node.stop());
  const phone = await udpPhone('carol');
  t.teardown(() => phone.close());
  t.is(await phone.register(sip), 200);
  const admin = `127.0.0.1:${node.adminAddress!.port}`;
  const run = async (what: 'show' | 'dump', aor?: string, json = false) => {
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void) => ({ write: (s: string) => (f(s), true) }) as unknown as NodeJS.WritableStream;
    const code = await runLocation(what, aor, { admin, json }, sink((s) => (out += s)), sink((s) => (err += s)));
    return { code, out, err };
  };
  const show = await run('show', 'sip:carol@example.com');
  t.is(show.code, 0);
  t.regex(show.out, new RegExp(`^sip:carol@example.com:\\n  sip:carol@127.0.0.1:${phone.port} q=1.0 expires=(299|300)s from udp:127.0.0.1:${phone.port}`));
  const missing = await run('show', 'sip:nobody@example.com');
  t.is(missing.code, 3);
  t.regex(missing.out, /not registered/);
  t.is((await run('show', 'no uri here')).code, 2);
  const dump = await run('dump');
  t.is(dump.code, 0);
  t.regex(dump.out, /1 bindings for 1 AORs\n$/);
  const lines = (await run('dump', undefined, true)).out.trim().split('\n').map((l) => JSON.parse(l) as { aor: string });
  t.deepEqual(lines.map((l) => l.aor), ['sip:carol@example.com']);
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  t.regex(metrics, /^anysip_location_bindings 1$/m);
  t.regex(metrics, /^anysip_location_aors 1$/m);
});
