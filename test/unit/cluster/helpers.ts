// In-process buses and memberships on 127.0.0.1, ephemeral ports, short timers.

import type { ExecutionContext } from 'ava';
import net from 'node:net';
import { ClusterBus, type ClusterBusOptions, type PeerAddress } from '../../../src/bin-proto/bus.js';
import { ClusterMembership } from '../../../src/cluster/membership.js';

export const SECRET = 'unit-test-cluster-secret-0123';

export function makeBus(t: ExecutionContext, id: number, over: Partial<ClusterBusOptions> = {}): ClusterBus {
  const bus = new ClusterBus({ selfId: id, name: `n${id}`, cluster: 'test', secret: SECRET, address: '127.0.0.1', port: 0, peers: [], reconnectMinMs: 20, reconnectMaxMs: 200, ...over });
  t.teardown(() => bus.stop());
  return bus;
}

export const addrOf = (b: ClusterBus): PeerAddress => ({ id: b.selfId, address: '127.0.0.1', port: b.port });

/** Start n buses (ids 1..n) and tell each about all the others. */
export async function mesh(t: ExecutionContext, n: number, over: Partial<ClusterBusOptions> = {}): Promise<ClusterBus[]> {
  const buses = Array.from({ length: n }, (_, i) => makeBus(t, i + 1, over));
  for (const b of buses) await b.start();
  for (const b of buses) for (const o of buses) if (o !== b) b.addPeer(addrOf(o));
  return buses;
}

export function withMembership(t: ExecutionContext, bus: ClusterBus, over: { heartbeatIntervalMs?: number; failureTimeoutMs?: number; rejoinAfterMs?: number } = {}) {
  const m = new ClusterMembership({ bus, name: `n${bus.selfId}`, heartbeatIntervalMs: 50, failureTimeoutMs: 250, rejoinAfterMs: 150, ...over });
  t.teardown(() => m.stop());
  return m;
}

export async function waitFor(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw TCP client to a bus port (an attacker, or a confused peer). */
export async function rawClient(t: ExecutionContext, port: number): Promise<{ socket: net.Socket; closed: () => boolean; received: () => Buffer }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => {
    socket.destroy();
  });
  let closed = false;
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed: () => closed, received: () => Buffer.concat(chunks) };
}
