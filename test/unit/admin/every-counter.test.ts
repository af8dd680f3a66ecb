// "Every counter in one place, with the same names": each numeric leaf of /status's counter
// snapshots is in /metrics as anysip_<section>_<key in snake case>: `counters` (names as they
// are), `transport`, `transactions.counters`, `cluster` (totals) and `cluster.peers[]` (label peer).

import test from 'ava';
import dgram from 'node:dgram';
import { Metrics } from '../../../src/admin/metrics.js';
import { Cluster, PEER_COUNTERS } from '../../../src/cluster/cluster.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/core/log.js';
import { metricName } from '../../../src/core/metrics.js';
import { Node } from '../../../src/node/node.js';

/** `[name, label value | undefined]` for every numeric leaf. */
function leaves(prefix: string, snap: Record<string, unknown>): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  for (const [k, v] of Object.entries(snap)) {
    if (typeof v === 'number') out.push([metricName(prefix, k), undefined]);
    else if (v && typeof v === 'object') for (const [lv, n] of Object.entries(v)) if (typeof n === 'number') out.push([metricName(prefix, k), lv]);
  }
  return out;
}

test('every numeric leaf of /status counters is in /metrics under the same name', async (t) => {
  const yaml = (id: number) => `node: { id: ${id} }
listen:
  - { transport: udp, address: 127.0.0.1, port: 0 }
admin: { address: 127.0.0.1, port: 0 }
log: { level: fatal }
cluster:
  secret: every-counter-secret-0123
  bus: { address: 127.0.0.1, port: 0 }
  heartbeat_interval: 50
  failure_timeout: 200
`;
  const n = new Node(parseConfig(yaml(1), 'every-counter.yaml'), { log: silentLogger() });
  await n.start();
  t.teardown(() => n.stop());
  const peer = new Cluster({ config: parseConfig(yaml(2), 'peer.yaml').cluster!, node: { id: 2, name: 'peer' } });
  await peer.start();
  t.teardown(() => peer.stop());
  peer.bus.addPeer({ id: 1, address: '127.0.0.1', port: (n.status().cluster as { bus: { port: number } }).bus.port });
  const udp = n.status().sockets as { port: number }[];
  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  const options = [
    'OPTIONS sip:127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKevery1', 'Max-Forwards: 70',
    'From: <sip:a@127.0.0.1>;tag=1', 'To: <sip:b@127.0.0.1>', 'Call-ID: every-counter-1', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
  ].join('\r\n');
  for (const d of [options, 'garbage\r\n\r\n', '\r\n\r\n']) sock.send(d, udp[0]!.port, '127.0.0.1');
  const a = n.adminAddress!;
  const base = `http://${a.address}:${a.port}`;
  let status: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < 100; i++) {
    status = (await (await fetch(`${base}/status`)).json()) as typeof status;
    const peers = (status.cluster?.peers ?? []) as { frames_in: number }[];
    if ((status.transport!.udpIn as number) > 0 && (status.counters!.sip_parse_errors_total as number) > 0 && peers[0]?.frames_in) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const prom = await (await fetch(`${base}/metrics`)).text();
  const cluster = status.cluster as { frames_in: number; frames_out: number; drops: Record<string, number>; peers: Record<string, number>[] };
  const perPeer: [string, string][] = [];
  for (const p of cluster.peers) for (const key of Object.keys(p)) if (typeof p[key] === 'number' && !['id', 'port', 'epoch', 'rtt_ms', 'last_heard_ms', 'view'].includes(key)) perPeer.push([metricName('cluster_peer_', key), String(p.id)]);
  t.deepEqual([...new Set(perPeer.map(([name]) => name))].sort(), PEER_COUNTERS.map((k) => metricName('cluster_peer_', k)).sort(), 'every per-peer counter, and only counters (ids, times and views are not)');
  const all = [
    ...leaves('', status.counters!),
    ...leaves('transport_', status.transport!),
    ...leaves('transactions_', (status.transactions as { counters: Record<string, number> }).counters),
    ...leaves('cluster_', { frames_in: cluster.frames_in, frames_out: cluster.frames_out, drops: cluster.drops }),
    ...perPeer,
  ];
  t.true(all.length >= 25, `${all.length} leaves`);
  for (const [name, label] of all) {
    const line = label === undefined ? new RegExp(`^${name} \\d+$`, 'm') : new RegExp(`^${name}\\{[a-z_]+="${label}"\\} \\d+$`, 'm');
    t.regex(prom, line, `${name}${label ? `{${label}}` : ''} in /metrics`);
  }
  t.regex(prom, /^# TYPE anysip_transport_tcp_connections gauge$/m);
  t.regex(prom, /^# TYPE anysip_transport_inbound_connections gauge$/m);
  t.regex(prom, /^# TYPE anysip_transport_send_queue_bytes gauge$/m);
  t.regex(prom, /^anysip_transport_udp_in [1-9]\d*$/m);
  t.regex(prom, /^anysip_transport_framing_errors 0$/m);
  t.regex(prom, /^anysip_transactions_server_created \d+$/m);
  t.regex(prom, /^anysip_cluster_peer_frames_in\{peer="2"\} [1-9]\d*$/m);
  t.regex(prom, /^# TYPE anysip_cluster_peer_queued gauge$/m);
});

test('a key a snapshot gains later appears at the next scrape, flat or by label; a throwing source is left out', async (t) => {
  const m = new Metrics();
  const snap: Record<string, number | Record<string, number>> = { sentThings: 1 };
  m.addSnapshot({ prefix: 'demo_', read: () => snap, labels: { refused: 'why' } });
  let boom = false;
  m.addSnapshot({ prefix: 'bad_', read: () => { if (boom) throw new Error('x'); return { n: 1 }; } });
  t.regex(await m.text(), /^anysip_demo_sent_things 1$/m);
  snap.sentThings = 3;
  snap.refused = { deadline: 2 };
  const text = await m.text();
  t.regex(text, /^anysip_demo_sent_things 3$/m);
  t.regex(text, /^anysip_demo_refused\{why="deadline"\} 2$/m);
  t.regex(text, /^anysip_bad_n 1$/m);
  boom = true;
  t.regex(await m.text(), /^anysip_demo_sent_things 3$/m);
});
