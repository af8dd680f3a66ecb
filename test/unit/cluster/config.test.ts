import test from 'ava';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/core/errors.js';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../examples/loopback-cluster');

const BASE = `node: { id: 2 }
listen: [{ transport: udp, address: 127.0.0.2, port: 5060 }]
`;

const fails = (t: import('ava').ExecutionContext, yaml: string) => t.throws(() => parseConfig(yaml, 'c.yaml'), { instanceOf: ConfigError }) as ConfigError;

test('no cluster section: a single node, no bus', (t) => {
  t.is(parseConfig(BASE, 'c.yaml').cluster, undefined);
});

test('cluster section: defaults applied (detection within 1 s)', (t) => {
  const c = parseConfig(`${BASE}cluster:\n  secret: 0123456789abcdef\n  bus: { address: 127.0.0.2, port: 7060 }\n`, 'c.yaml').cluster!;
  t.deepEqual(c, {
    name: 'anysip',
    secret: '0123456789abcdef',
    bus: { address: '127.0.0.2', port: 7060 },
    peers: [],
    heartbeat_interval: 200,
    failure_timeout: 800,
    rejoin_after: 600,
    max_frame_size: 1048576,
    send_queue_limit: 4194304,
    reconnect_min: 100,
    reconnect_max: 5000,
  });
  t.true(c.failure_timeout + 50 <= 1000);
});

test('errors name the key and the file', (t) => {
  t.regex(fails(t, `${BASE}cluster:\n  bus: { address: 127.0.0.2, port: 7060 }\n`).message, /^c\.yaml: cluster\.secret: missing \(required\)/);
  t.regex(fails(t, `${BASE}cluster:\n  secret: short\n  bus: { address: 127.0.0.2, port: 7060 }\n`).message, /^c\.yaml: cluster\.secret: must be at least 16 characters \(line 4\)/);
  t.regex(fails(t, `${BASE}cluster:\n  secret: 0123456789abcdef\n  bus: { address: localhost, port: 7060 }\n`).message, /^c\.yaml: cluster\.bus\.address: must be an IPv4 or IPv6 address literal/);
  t.regex(fails(t, `${BASE}cluster:\n  secret: 0123456789abcdef\n  bus: { address: 127.0.0.2, port: 7060 }\n  heartbeat_intervall: 100\n`).message, /cluster\.heartbeat_intervall: unknown key; did you mean "heartbeat_interval"\?/);
  t.regex(
    fails(t, `${BASE}cluster:\n  secret: 0123456789abcdef\n  bus: { address: 127.0.0.2, port: 7060 }\n  heartbeat_interval: 500\n  failure_timeout: 800\n`).message,
    /^c\.yaml: cluster\.failure_timeout: must be >= 2 x cluster\.heartbeat_interval \(800 < 2 x 500\)/,
  );
  t.regex(
    fails(t, `${BASE}cluster:\n  secret: 0123456789abcdef\n  bus: { address: 127.0.0.2, port: 7060 }\n  peers:\n    - { id: 3, address: 127.0.0.3, port: 7060 }\n    - { id: 3, address: 127.0.0.4, port: 7060 }\n`).message,
    /^c\.yaml: cluster\.peers\[1\]\.id: duplicate peer id 3 \(also cluster\.peers\[0\]\)/,
  );
  t.regex(
    fails(t, `${BASE}cluster:\n  secret: 0123456789abcdef\n  bus: { address: 127.0.0.2, port: 7060 }\n  peers: [{ id: 9, address: 127.0.0.2, port: 7060 }]\n`).message,
    /cluster\.peers\[0\]\.id: 127\.0\.0\.2:7060 is this node's own bus address but id 9 is not node\.id \(2\)/,
  );
  t.regex(
    fails(t, `node: { id: 2 }\nlisten: [{ transport: tcp, address: 127.0.0.2, port: 7060 }]\ncluster:\n  secret: 0123456789abcdef\n  bus: { address: 127.0.0.2, port: 7060 }\n`).message,
    /cluster\.bus\.port: 127\.0\.0\.2:7060 is also bound by listen\[0\]/,
  );
});

test('examples/loopback-cluster: three nodes on 127.0.0.1-3, one peer list, distinct admin ports', (t) => {
  const cs = [1, 2, 3].map((i) => loadConfig(join(EXAMPLES, `node${i}.yaml`)));
  cs.forEach((c, i) => {
    t.is(c.node.id, i + 1);
    t.true(c.listen.every((l) => l.address === `127.0.0.${i + 1}` && l.port === 5060));
    t.deepEqual(c.cluster!.bus, { address: `127.0.0.${i + 1}`, port: 7060 });
    t.deepEqual(c.cluster!.peers, cs[0]!.cluster!.peers);
    t.is(c.cluster!.secret, cs[0]!.cluster!.secret);
    t.is(c.node.branch_secret, cs[0]!.node.branch_secret);
  });
  t.is(new Set(cs.map((c) => c.admin.port)).size, 3);
});
