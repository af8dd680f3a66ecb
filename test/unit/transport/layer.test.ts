import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { TransportError } from '../../../src/core/errors.js';
import { TransportLayer } from '../../../src/transport/layer.js';
import type { TransportName } from '../../../src/transport/types.js';

async function busyPort(transport: TransportName): Promise<{ port: number; release: () => Promise<void> }> {
  if (transport === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return { port: s.address().port, release: () => new Promise((r) => s.close(() => r())) };
  }
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    release: () => new Promise((r) => server.close(() => r())),
  };
}

for (const transport of ['udp', 'tcp', 'ws'] as const) {
  test(`start() on a busy ${transport} port rejects naming the socket and address`, async (t) => {
    const busy = await busyPort(transport);
    t.teardown(busy.release);
    const layer = new TransportLayer({
      sockets: [
        { id: 'fine', transport: 'udp', address: '127.0.0.1', port: 0, role: 'unicast' },
        { id: 'clash', transport, address: '127.0.0.1', port: busy.port, role: 'anycast' },
      ],
    });
    t.teardown(() => layer.stop());
    const err = await t.throwsAsync(layer.start(), { instanceOf: TransportError });
    t.true(err!.message.includes(`'clash'`), err!.message);
    t.true(err!.message.includes(`127.0.0.1:${busy.port}`), err!.message);
    t.regex(err!.message, /EADDRINUSE/);
    // The socket that did bind was released again.
    const freed = layer.sockets().find((s) => s.id === 'fine')!;
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(freed.port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((r) => probe.close(() => r()));
    t.pass();
  });
}

test('sockets() reports bound ports without changing the caller specs; stop() is idempotent', async (t) => {
  const specs = [
    { id: 'u', transport: 'udp' as const, address: '127.0.0.1', port: 0, role: 'anycast' as const },
    { id: 't', transport: 'tcp' as const, address: '::1', port: 0, role: 'unicast' as const, advertise: 'sip.example.com' },
    { id: 'w', transport: 'ws' as const, address: '127.0.0.1', port: 0, role: 'anycast' as const },
  ];
  const layer = new TransportLayer({ sockets: specs });
  try {
    await layer.start();
  } catch (err) {
    t.fail(`start failed (is IPv6 loopback ::1 available?): ${(err as Error).message}`);
    return;
  }
  const bound = layer.sockets();
  t.deepEqual(bound.map((s) => s.id), ['u', 't', 'w']);
  t.true(bound.every((s) => s.port > 0));
  t.is(bound[1]!.advertise, 'sip.example.com');
  t.is(specs[0]!.port, 0, 'caller objects untouched');
  await Promise.all([layer.stop(), layer.stop()]);
  await layer.stop();
  // After stop the ports are free again.
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(bound[1]!.port, '::1', resolve);
  });
  await new Promise<void>((r) => probe.close(() => r()));
  await t.throwsAsync(layer.start(), { instanceOf: TransportError });
});

test('socketFor: explicit socketId of the right transport, else first of transport and family', (t) => {
  const layer = new TransportLayer({
    sockets: [
      { id: 'any-udp', transport: 'udp', address: '127.0.0.1', port: 5060, role: 'anycast' },
      { id: 'core-udp', transport: 'udp', address: '127.0.0.1', port: 5070, role: 'unicast' },
      { id: 'v6-udp', transport: 'udp', address: '::1', port: 5060, role: 'anycast' },
      { id: 'any-tcp', transport: 'tcp', address: '127.0.0.1', port: 5060, role: 'anycast' },
      { id: 'dual-ws', transport: 'ws', address: '::', port: 8080, role: 'anycast' },
    ],
  });
  const id = (d: Parameters<TransportLayer['socketFor']>[0]) => layer.socketFor(d).id;
  t.is(id({ transport: 'udp', address: '192.0.2.1', port: 5060 }), 'any-udp');
  t.is(id({ transport: 'udp', address: '192.0.2.1', port: 5060, socketId: 'core-udp' }), 'core-udp');
  t.is(id({ transport: 'udp', address: '2001:db8::1', port: 5060 }), 'v6-udp');
  t.is(id({ transport: 'tcp', address: '192.0.2.1', port: 5060, socketId: 'core-udp' }), 'any-tcp', 'wrong transport id ignored');
  t.is(id({ transport: 'ws', address: '192.0.2.1', port: 5060 }), 'dual-ws', ':: is dual-stack');
  t.throws(() => layer.socketFor({ transport: 'tcp', address: '2001:db8::1', port: 5060 }), {
    instanceOf: TransportError,
  });
});

test('constructor rejects duplicate ids and non-IP addresses', (t) => {
  t.throws(
    () =>
      new TransportLayer({
        sockets: [
          { id: 'a', transport: 'udp', address: '127.0.0.1', port: 0, role: 'anycast' },
          { id: 'a', transport: 'tcp', address: '127.0.0.1', port: 0, role: 'anycast' },
        ],
      }),
    { instanceOf: TransportError, message: /duplicate socket id 'a'/ },
  );
  t.throws(() => new TransportLayer({ sockets: [{ id: 'h', transport: 'udp', address: 'localhost', port: 0, role: 'anycast' }] }), {
    instanceOf: TransportError,
    message: /'h'/,
  });
});
