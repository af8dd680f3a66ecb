// Bus benchmark: two nodes (two processes) on loopback, one authenticated link.
//   npx tsx bench/bus/run.ts [--pings 5000] [--frames 200000] [--size 200]
// Latency: sequential round trips (send, wait for the echo) -> p50/p99.
// Throughput: pipelined echoes (a window of frames in flight) -> frames/s over the link, both directions counted.
// Results are recorded in bench/bus/RESULTS.md.

import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ClusterBus } from '../../src/bin-proto/bus.js';

const SECRET = 'bench-bus-secret-0123456789';
const PING = 1;
const PONG = 2;
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

async function echoNode(port: number, peerPort: number): Promise<void> {
  const bus = new ClusterBus({ selfId: 2, name: 'echo', cluster: 'bench', secret: SECRET, address: '127.0.0.1', port, peers: [{ id: 1, address: '127.0.0.1', port: peerPort }] });
  bus.handle('anycast', (m) => {
    if (m.type === PING) bus.send(1, 'anycast', PONG, m.payload);
  });
  await bus.start();
  process.stdout.write('ready\n');
}

async function main(): Promise<void> {
  const pings = arg('pings', 5000);
  const frames = arg('frames', 200_000);
  const size = arg('size', 200);
  const { freePort } = await import('../../test/e2e/harness.js');
  const [p1, p2] = [await freePort(), await freePort()];
  const a = new ClusterBus({ selfId: 1, name: 'bench', cluster: 'bench', secret: SECRET, address: '127.0.0.1', port: p1, peers: [{ id: 2, address: '127.0.0.1', port: p2 }], sendQueueLimit: 64 * 1024 * 1024 });
  let onPong: () => void = () => {};
  a.handle('anycast', (m) => {
    if (m.type === PONG) onPong();
  });
  await a.start();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--echo', String(p2), String(p1)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    while (!a.linked(2)) await new Promise((r) => setTimeout(r, 5));
    const payload = Buffer.alloc(size, 0x61);

    // Warm-up.
    for (let i = 0; i < 2000; i++) await new Promise<void>((resolve) => ((onPong = resolve), a.send(2, 'anycast', PING, payload)));

    const rtts: number[] = [];
    for (let i = 0; i < pings; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        onPong = resolve;
        a.send(2, 'anycast', PING, payload);
      });
      rtts.push(performance.now() - t0);
    }
    rtts.sort((x, y) => x - y);
    const pct = (p: number) => rtts[Math.min(rtts.length - 1, Math.floor((p / 100) * rtts.length))]!;

    const window = 2000;
    let sent = 0;
    let done = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (sent < frames && sent - done < window) {
          if (!a.send(2, 'anycast', PING, payload)) break;
          sent++;
        }
      };
      onPong = () => {
        done++;
        if (done === frames) resolve();
        else if (sent - done < window / 2) pump();
      };
      pump();
    });
    const secs = (performance.now() - t0) / 1000;
    const result = {
      node: process.version,
      cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
      payload_bytes: size,
      rtt_ms: { p50: +pct(50).toFixed(3), p99: +pct(99).toFixed(3), max: +rtts[rtts.length - 1]!.toFixed(3), samples: pings },
      throughput: { echoes_per_s: Math.round(frames / secs), frames_per_s: Math.round((2 * frames) / secs), frames: 2 * frames, seconds: +secs.toFixed(2) },
      drops: a.stats().drops,
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    await a.stop();
  }
}

if (process.argv[2] === '--echo') await echoNode(Number(process.argv[3]), Number(process.argv[4]));
else await main();
