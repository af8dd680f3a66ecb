// "Every counter in one place, with the same names": each numeric leaf of /status's counter
// snapshots (`counters`, `transport`) is in /metrics as anysip_<section>_<key in snake case>.

import test from 'ava';
import dgram from 'node:dgram';
import { Metrics } from '../../../src/admin/metrics.js';
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

test('every numeric leaf of /status counters and transport is in /metrics under the same name', async (t) => {
  const yaml = `node: { id: 1 }
listen:
  - { transport: udp, address: 127.0.0.1, port: 0 }
admin: { address: 127.0.0.1, port: 0 }
log: { level: fatal }
`;
  const n = new Node(parseConfig(yaml, 'every-counter.yaml'), { log: silentLogger() });
  await n.start();
  t.teardown(() => n.stop());
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
    if ((status.transport!.udpIn as number) > 0 && (status.counters!.sip_parse_errors_total as number) > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const prom = await (await fetch(`${base}/metrics`)).text();
  const all = [...leaves('', status.counters!), ...leaves('transport_', status.transport!)];
  t.true(all.length >= 10);
  for (const [name, label] of all) {
    const line = label === undefined ? new RegExp(`^${name} \\d+$`, 'm') : new RegExp(`^${name}\\{[a-z_]+="${label}"\\} \\d+$`, 'm');
    t.regex(prom, line, `${name}${label ? `{${label}}` : ''} in /metrics`);
  }
  t.regex(prom, /^# TYPE anysip_transport_tcp_connections gauge$/m);
  t.regex(prom, /^anysip_transport_udp_in [1-9]\d*$/m);
  t.regex(prom, /^anysip_transport_framing_errors 0$/m);
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
