import test from 'ava';
import { MAX_DROP_REASONS, Metrics } from '../../../src/admin/metrics.js';

/** Value of one sample line, e.g. sample(text, 'anysip_x_total{method="INVITE"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('counters appear in the exposition after calls', async (t) => {
  const m = new Metrics();
  m.requestIn('INVITE');
  m.requestIn('INVITE');
  m.requestOut('BYE');
  m.responseIn(180);
  m.responseOut(200);
  m.responseOut(200);
  m.parseError();
  m.drop('owner_down');
  const text = await m.text();
  t.is(sample(text, 'anysip_sip_requests_received_total{method="INVITE"}'), 2);
  t.is(sample(text, 'anysip_sip_requests_sent_total{method="BYE"}'), 1);
  t.is(sample(text, 'anysip_sip_responses_received_total{code="180"}'), 1);
  t.is(sample(text, 'anysip_sip_responses_sent_total{code="200"}'), 2);
  t.is(sample(text, 'anysip_sip_parse_errors_total'), 1);
  t.is(sample(text, 'anysip_sip_drops_total{reason="owner_down"}'), 1);
  t.regex(text, /# TYPE anysip_sip_requests_received_total counter/);
  t.regex(text, /# HELP anysip_uptime_seconds /);

  // Counting continues across scrapes (collect rebuilds from the slots).
  m.requestIn('INVITE');
  t.is(sample(await m.text(), 'anysip_sip_requests_received_total{method="INVITE"}'), 3);
});

test('counters() is a plain snapshot of non-zero values', (t) => {
  const m = new Metrics();
  m.requestIn('REGISTER');
  m.responseOut(401);
  m.responseOut(99); // not a status code
  t.deepEqual(m.counters(), {
    sip_requests_received_total: { REGISTER: 1 },
    sip_requests_sent_total: {},
    sip_responses_received_total: {},
    sip_responses_sent_total: { '401': 1, other: 1 },
    sip_parse_errors_total: 0,
    sip_drops_total: {},
  });
});

test('label cardinality is bounded: unknown methods and excess reasons become "other"', async (t) => {
  const m = new Metrics();
  for (let i = 0; i < 1000; i++) m.requestIn(`FOO${i}`);
  m.requestIn('invite'); // methods are case-sensitive (RFC 3261 7.1)
  for (let i = 0; i < 1000; i++) m.drop(`reason_${i}`);
  for (let i = 0; i < 1000; i++) m.responseIn(1000 + i);
  const c = m.counters();
  t.deepEqual(c.sip_requests_received_total, { other: 1001 });
  t.is(Object.keys(c.sip_drops_total).length, MAX_DROP_REASONS + 1);
  t.is(c.sip_drops_total.other, 1000 - MAX_DROP_REASONS);
  t.deepEqual(c.sip_responses_received_total, { other: 1000 });
  const text = await m.text();
  t.is(text.split('\n').filter((l) => l.startsWith('anysip_sip_drops_total{')).length, MAX_DROP_REASONS + 1);
  t.is(sample(text, 'anysip_sip_requests_received_total{method="other"}'), 1001);
});

test('gauges are read from the registered callbacks at scrape time', async (t) => {
  const m = new Metrics();
  let server = 3;
  m.setGauges(() => ({ serverTransactions: server, clientTransactions: 5, registrarContacts: 42 }));
  let text = await m.text();
  t.is(sample(text, 'anysip_transactions_active{kind="server"}'), 3);
  t.is(sample(text, 'anysip_transactions_active{kind="client"}'), 5);
  t.is(sample(text, 'anysip_registrar_contacts'), 42);
  server = 4;
  text = await m.text();
  t.is(sample(text, 'anysip_transactions_active{kind="server"}'), 4);
});

test('a throwing gauge callback does not break the scrape', async (t) => {
  const m = new Metrics();
  m.requestIn('OPTIONS');
  m.setGauges(() => {
    throw new Error('boom');
  });
  const text = await m.text();
  t.is(sample(text, 'anysip_transactions_active{kind="server"}'), undefined);
  t.is(sample(text, 'anysip_registrar_contacts'), 0);
  t.is(sample(text, 'anysip_sip_requests_received_total{method="OPTIONS"}'), 1);
});

test('uptime follows the given clock', async (t) => {
  let now = 1_000_000;
  const m = new Metrics({ clock: { now: () => now } });
  now += 12_500;
  t.is(m.uptimeSeconds(), 12.5);
  t.is(sample(await m.text(), 'anysip_uptime_seconds'), 12.5);
});

test('each Metrics has its own registry (several nodes per process)', async (t) => {
  const a = new Metrics();
  const b = new Metrics();
  a.requestIn('INVITE');
  t.is(sample(await a.text(), 'anysip_sip_requests_received_total{method="INVITE"}'), 1);
  t.is(sample(await b.text(), 'anysip_sip_requests_received_total{method="INVITE"}'), undefined);
  t.regex(a.contentType, /^text\/plain; version=0\.0\.4/);
});

test('process metrics are opt-in', async (t) => {
  t.notRegex(await new Metrics().text(), /anysip_process_cpu/);
  t.regex(await new Metrics({ processMetrics: true }).text(), /anysip_process_cpu_user_seconds_total/);
});
