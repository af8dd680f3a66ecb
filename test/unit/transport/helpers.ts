// Shared by the transport tests: real sockets on loopback only, port 0.

import type { ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import { TransportLayer, type TransportLayerOptions } from '../../../src/transport/layer.js';
import type { Envelope, SocketSpec } from '../../../src/transport/types.js';

export function sip(body = '', first = 'OPTIONS sip:bob@example.com SIP/2.0'): Buffer {
  return Buffer.from(
    `${first}\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-test\r\nCall-ID: t1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
}

export interface Received {
  data: Buffer;
  env: Envelope;
}

/** A started layer that records what it receives and stops when the test ends. */
export async function startLayer(
  t: ExecutionContext,
  sockets: Omit<SocketSpec, 'role'>[] | SocketSpec[],
  opts: Partial<TransportLayerOptions> = {},
): Promise<{ layer: TransportLayer; received: Received[]; next: () => Promise<Received> }> {
  const layer = new TransportLayer({
    ...opts,
    sockets: sockets.map((s) => ({ role: 'anycast', ...s }) as SocketSpec),
  });
  const received: Received[] = [];
  const waiters: ((r: Received) => void)[] = [];
  layer.onMessage = (data, env) => {
    const r = { data, env };
    const w = waiters.shift();
    if (w) w(r);
    else received.push(r);
  };
  t.teardown(() => layer.stop());
  await layer.start();
  const next = (): Promise<Received> => {
    const r = received.shift();
    if (r) return Promise.resolve(r);
    return withTimeout(new Promise<Received>((resolve) => waiters.push(resolve)), 3000, 'no message reached onMessage');
  };
  return { layer, received, next };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

export async function waitFor(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function portOf(layer: TransportLayer, id: string): number {
  const s = layer.sockets().find((x) => x.id === id);
  if (!s) throw new Error(`no socket ${id}`);
  return s.port;
}

/** A UDP client bound on `address`; fails the test with a clear message when the address is unusable (e.g. no ::1). */
export async function udpClient(t: ExecutionContext, address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  t.teardown(() => new Promise<void>((r) => socket.close(() => r())).catch(() => {}));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => resolve());
    });
  } catch (err) {
    throw new Error(`cannot bind a UDP client on ${address} (is IPv6 loopback available?): ${(err as Error).message}`);
  }
  return socket;
}

export function nextDatagram(socket: dgram.Socket): Promise<{ data: Buffer; rinfo: dgram.RemoteInfo }> {
  return withTimeout(
    new Promise((resolve) => socket.once('message', (data, rinfo) => resolve({ data, rinfo }))),
    3000,
    'no datagram arrived',
  );
}
