import test from 'ava';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/core/log.js';
import { grown, numericLeaves, Summary } from '../../../src/node/summary.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (d) => chunks.push(d.toString()));
  const log = createLogger({ name: 'anysip', level: 'info', nodeId: 1, stream: out });
  return { log, lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('numericLeaves flattens nested counters by dotted path, ignoring arrays and strings', (t) => {
  t.deepEqual(numericLeaves({ a: 1, b: { c: 2, d: 'x', e: [3] }, f: { g: { h: 4 } } }), { a: 1, 'b.c': 2, 'f.g.h': 4 });
});

test('grown keeps only counters that grew, by how much', (t) => {
  t.deepEqual(grown({ a: 1, b: 5, c: 2 }, { a: 4, b: 5, c: 1, d: 2 }), { a: 3, d: 2 });
});

test('a summary line says the state, what is held and what moved since the previous line', (t) => {
  const { log, lines } = capture();
  let requests = 10;
  let drops = 0;
  const status = () => ({
    node: { state: 'up' },
    transactions: { serverTransactions: 3, clientTransactions: 2 },
    registrar: { contacts: 7 },
    counters: { sip_requests_received_total: { INVITE: requests, BYE: 1 }, sip_requests_sent_total: {}, sip_drops_total: { bad_mac: drops } },
    transport: { tcp: { refused_per_source: drops * 2 } },
  });
  const s = new Summary({ intervalSeconds: 60, log, status });
  s.start();
  requests = 25;
  drops = 4;
  s.emit();
  s.emit();
  s.stop();
  const [first, second] = lines();
  t.like(first, { state: 'up', server_transactions: 3, client_transactions: 2, contacts: 7, level: 30 });
  t.deepEqual(first!.delta, {
    'counters.sip_requests_received_total.INVITE': 15,
    'counters.sip_drops_total.bad_mac': 4,
    'transport.tcp.refused_per_source': 8,
  });
  t.regex(first!.msg as string, /^summary: up, 3 server \/ 2 client transactions, \+15 requests in, \+0 out, \+4 dropped$/);
  t.deepEqual(second!.delta, {}, 'nothing moved between the two lines');
});

test('a status that throws is logged as an error, never escapes', (t) => {
  const { log, lines } = capture();
  const s = new Summary({
    intervalSeconds: 60,
    log,
    status: () => {
      throw new Error('boom');
    },
  });
  t.notThrows(() => s.emit());
  t.like(lines()[0], { level: 50, msg: 'summary: reading the status failed' });
});
