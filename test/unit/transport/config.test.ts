// The transport keys of the config file: defaults, validation, and how they reach the layer.

import test from 'ava';
import { parseConfig } from '../../../src/config/index.js';

const BASE = `
node: { id: 1, branch_secret: unit-secret-0123456789 }
listen:
  - { id: tcp, transport: tcp, address: 127.0.0.1, port: 5060 }
`;

test('config: hostile-traffic transport keys have their defaults', (t) => {
  const c = parseConfig(BASE, 'x.yaml');
  t.deepEqual(c.transport, {
    tcp_idle_timeout: 120,
    max_message_size: 65535,
    message_deadline: 10,
    max_send_queue: 262144,
    send_stall_timeout: 30,
  });
  t.is(c.transport.max_connections, undefined, 'absent: derived from the fd limit by the layer');
});

test('config: transport keys are read and validated', (t) => {
  const c = parseConfig(
    `${BASE}transport: { message_deadline: 2.5, max_connections: 500, max_connections_per_source: 20, max_send_queue: 100000, send_stall_timeout: 0 }\n`,
    'x.yaml',
  );
  t.like(c.transport, { message_deadline: 2.5, max_connections: 500, max_connections_per_source: 20, max_send_queue: 100000, send_stall_timeout: 0 });
  t.throws(() => parseConfig(`${BASE}transport: { max_send_queue: 2000 }\n`, 'x.yaml'), { message: /max_send_queue/ });
  t.throws(() => parseConfig(`${BASE}transport: { max_connections: 0 }\n`, 'x.yaml'), { message: /max_connections/ });
  t.throws(() => parseConfig(`${BASE}transport: { message_deadline: -1 }\n`, 'x.yaml'), { message: /message_deadline/ });
});
