import test from 'ava';
import { formatStatus } from '../../../src/cli/status.js';
import { Cluster } from '../../../src/cluster/cluster.js';
import { Metrics } from '../../../src/admin/metrics.js';
import { parseConfig } from '../../../src/config/index.js';
import { waitFor } from './helpers.js';

test('cluster status and `anysip status` lines: every member with state, link, RTT, frames, drops', async (t) => {
  const yaml = (id: number) => `node: { id: ${id} }
listen: [{ transport: udp, address: 127.0.0.1, port: 0 }]
cluster:
  secret: status-test-secret-0123
  bus: { address: 127.0.0.1, port: 0 }
  heartbeat_interval: 50
  failure_timeout: 200
`;
  const metrics = new Metrics();
  const a = new Cluster({ config: parseConfig(yaml(1), 'a.yaml').cluster!, node: { id: 1, name: 'alpha' }, metrics });
  const b = new Cluster({ config: parseConfig(yaml(2), 'b.yaml').cluster!, node: { id: 2, name: 'beta' } });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  await a.start();
  await b.start();
  b.bus.addPeer({ id: 1, address: '127.0.0.1', port: a.bus.port });
  await waitFor(() => a.membership.state(2) === 'up' && a.status().peers[0]?.rtt_ms !== undefined, 3000, 'up with rtt');
  const s = a.status();
  t.like(s, { name: 'anysip', self: { id: 1, name: 'alpha', state: 'up' }, up: [1, 2] });
  t.like(s.peers[0], { id: 2, name: 'beta', state: 'up', link: 'up' });
  t.true(s.peers[0]!.frames_in > 0 && s.peers[0]!.frames_out > 0);

  const text = formatStatus({ node: { id: 1, name: 'alpha', state: 'up' }, uptime_seconds: 1, cluster: JSON.parse(JSON.stringify(s)) });
  t.regex(text, /cluster anysip: view \d+, bus 127\.0\.0\.1:\d+, frames in \d+ out \d+, drops none/);
  t.regex(text, /node 1 alpha \(self\): up/);
  t.regex(text, /node 2 beta 127\.0\.0\.1:\d+: up, link up, rtt \d+\.\d\d ms, frames in \d+ out \d+, drops none/);

  const prom = await metrics.text();
  t.regex(prom, /anysip_bus_frames_received_total\{peer="2"\} \d+/);
  t.regex(prom, /anysip_cluster_members\{state="up"\} 2/);
  t.regex(prom, /anysip_cluster_view \d+/);
});
