// Random trash and mangled real messages into a real node (seeded, replayable):
// never an exception, never silence. Each input is answered (a 400 carries a To
// tag and a reason), processed as the valid request it happens to be, or a
// counted drop.

import test from 'ava';
import { Prng } from '../../sim/prng.js';
import { parseNameAddr } from '../../../src/sip/headers.js';
import { startRig, sipRequest, NODE_ADDRESS, NODE_PORT, type Rig } from './rig.js';

const SEEDS = [1, 2, 3, 4, 5];
const PER_SEED = 300;

function realMessages(n: number): string[] {
  const via = `SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-fz-${n}`;
  const id = { Via: via, 'Call-ID': `fz-${n}` };
  return [
    sipRequest('INVITE', 'sip:bob@example.com', id, ['Contact: <sip:alice@192.0.2.10:5062>']),
    sipRequest('OPTIONS', `sip:${NODE_ADDRESS}:${NODE_PORT}`, id),
    sipRequest('REGISTER', 'sip:example.com', id, ['Contact: <sip:bob@192.0.2.10:5062>;expires=60']),
    sipRequest('BYE', 'sip:bob@192.0.2.20', { ...id, To: '<sip:bob@example.com>;tag=t1', Route: '<sip:127.0.0.1;lr>' }),
    sipRequest('ACK', 'sip:bob@192.0.2.20', { ...id, To: '<sip:bob@example.com>;tag=t1', CSeq: '1 ACK' }),
    `SIP/2.0 200 OK\r\nVia: ${via}\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: fz-${n}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`,
  ];
}

function mangle(prng: Prng, text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  switch (prng.int(7)) {
    case 0: // random trash (sipsak's random mode)
      return Buffer.from(Array.from({ length: 1 + prng.int(600) }, () => prng.int(256)));
    case 1: // truncated (a cut datagram)
      return bytes.subarray(0, prng.int(bytes.length));
    case 2: { // a few bytes flipped
      const out = Buffer.from(bytes);
      for (let i = 1 + prng.int(8); i > 0; i--) out[prng.int(out.length)] = prng.int(256);
      return out;
    }
    case 3: { // one line dropped
      const lines = text.split('\r\n');
      lines.splice(prng.int(lines.length - 2), 1);
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    case 4: { // one line duplicated
      const lines = text.split('\r\n');
      const at = 1 + prng.int(lines.length - 3);
      lines.splice(at, 0, lines[at]!);
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    case 5: { // a header value replaced by trash
      const lines = text.split('\r\n');
      const at = 1 + prng.int(lines.length - 3);
      const name = lines[at]!.split(':')[0];
      lines[at] = `${name}: ${prng.token(1 + prng.int(20))}${String.fromCharCode(prng.int(128))}`;
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    default: { // a chunk of trash spliced in
      const at = prng.int(bytes.length);
      const trash = Buffer.from(Array.from({ length: 1 + prng.int(40) }, () => prng.int(256)));
      return Buffer.concat([bytes.subarray(0, at), trash, bytes.subarray(at)]);
    }
  }
}

function dropTotal(rig: Rig): number {
  const c = rig.node.metrics.counters();
  return Object.values(c.sip_drops_total).reduce((a, b) => a + b, 0); // tm's drops are in it too
}

function toParses(text: string): boolean {
  const m = /\r\n(?:To|t)[ \t]*:[ \t]*([^\r\n]*)\r\n/i.exec(text);
  if (!m) return false;
  try {
    parseNameAddr(m[1]!);
    return true;
  } catch {
    return false;
  }
}

for (const seed of SEEDS) {
  test(`seed ${seed}: ${PER_SEED} mangled messages over UDP and TCP: answered, processed or a counted drop`, async (t) => {
    const prng = new Prng(seed);
    const rig = await startRig();
    try {
      let answered400 = 0;
      let drops = 0;
      for (let n = 0; n < PER_SEED; n++) {
        const input = mangle(prng, prng.pick(realMessages(seed * 100_000 + n)));
        const transport = prng.chance(0.5) ? 'udp' : 'tcp';
        const before = dropTotal(rig);
        const sent = rig.receive(input, transport); // throws if anything escaped ingress
        const what = `seed ${seed} #${n} ${transport}: ${JSON.stringify(input.toString('latin1').slice(0, 200))}`;
        const dropped = dropTotal(rig) > before;
        t.true(sent.length > 0 || dropped, `silence for ${what}`);
        if (dropped) drops++;
        for (const m of sent) {
          if (m.isRequest || m.status !== 400) continue;
          answered400++;
          t.true(m.reason.length > 0 && m.reason !== 'Bad Request', `400 without a reason naming the problem for ${what}`);
          if (toParses(input.toString('latin1'))) t.truthy(m.toTag, `400 without a To tag for ${what}`);
        }
      }
      t.is(rig.node.metrics.counters().sip_drops_total.internal_error ?? 0, 0, 'no exception was caught by ingress');
      t.true(answered400 > 0 && drops > 0, `both outcomes were exercised (${answered400} answered 400, ${drops} dropped)`);
    } finally {
      await rig.stop();
    }
  });
}

test('the drop reasons name what was wrong', async (t) => {
  const rig = await startRig();
  try {
    rig.receive('\x00\x01 trash with no line end');
    rig.receive('SIP/2.0 2xx broken status\r\nVia: SIP/2.0/UDP 192.0.2.10\r\n\r\n');
    rig.receive(sipRequest('ACK', 'sip:bob@example.com', { 'Call-ID': null, CSeq: '1 ACK' }));
    rig.receive(sipRequest('INVITE', 'sip:bob@example.com', { Via: 'SIP/2.0/UDP' }));
    const drops = rig.node.metrics.counters().sip_drops_total;
    t.is(drops.unparseable, 1);
    t.is(drops.bad_response, 1);
    t.is(drops.bad_ack, 1);
    t.is(drops.unanswerable, 1);
  } finally {
    await rig.stop();
  }
});

test('a truncated request, a broken header line or request line with a usable Via gets a 400 naming the problem', async (t) => {
  const rig = await startRig();
  try {
    const full = sipRequest('INVITE', 'sip:bob@example.com');
    const cut = full.slice(0, full.indexOf('CSeq'));
    const [truncated] = rig.receive(cut);
    t.regex(truncated?.startLine() ?? '', /^SIP\/2\.0 400 /);
    t.regex(truncated?.toTag ?? '', /^[0-9a-f]{16}$/);

    const broken = full.replace('Max-Forwards: 70', 'Max Forwards 70');
    t.is(rig.receive(broken.replace('fz', 'x').replace('rig-1', 'rig-2'))[0]?.startLine(), 'SIP/2.0 400 Malformed header line');

    const badLine = full.replace('INVITE sip:bob@example.com SIP/2.0', 'INVITE  sip:bob@example.com SIP/2.0').replace('rig-1', 'rig-3');
    t.is(rig.receive(badLine)[0]?.startLine(), 'SIP/2.0 400 Extra whitespace in request line');

    const noCallId = sipRequest('INVITE', 'sip:bob@example.com', { 'Call-ID': null, Via: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-rig-4' });
    t.is(rig.receive(noCallId)[0]?.startLine(), 'SIP/2.0 400 Missing Call-ID header');

    const badCseq = sipRequest('INVITE', 'sip:bob@example.com', { CSeq: 'one INVITE', Via: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-rig-5' });
    t.regex(rig.receive(badCseq)[0]?.startLine() ?? '', /^SIP\/2\.0 400 Bad CSeq header/);

    // A broken second Via: the top one still addresses the answer.
    const badSecondVia = sipRequest('INVITE', 'sip:bob@example.com', { Via: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-rig-6\r\nVia: SIP/2.0/UDP' });
    t.regex(rig.receive(badSecondVia)[0]?.startLine() ?? '', /^SIP\/2\.0 400 Bad Via header/);
  } finally {
    await rig.stop();
  }
});
