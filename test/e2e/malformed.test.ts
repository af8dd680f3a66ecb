// Bad input on the wire gets a clear SIP answer (RFC 3261 16.3, RFC 4475 3.3)
// or a counted drop, and the node keeps serving.

import test from 'ava';
import { createSocket } from 'node:dgram';
import { freePort, proxyYaml, startNode } from './harness.js';
import type { Node } from '../../src/node/node.js';

function request(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

function base(overrides: Record<string, string | null> = {}, startLine = 'INVITE sip:service@127.0.0.1 SIP/2.0'): Buffer {
  const headers: Record<string, string | null> = {
    Via: 'SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-bad-' + Math.random().toString(36).slice(2),
    From: '<sip:a@127.0.0.1>;tag=1',
    To: '<sip:service@127.0.0.1>',
    'Call-ID': 'bad-' + Math.random().toString(36).slice(2),
    CSeq: '1 INVITE',
    'Max-Forwards': '70',
    'Content-Length': '0',
    ...overrides,
  };
  return request([startLine, ...Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`)]);
}

/** Send one datagram from a fresh socket and return the first answer (or null after 1.5 s). */
async function exchange(node: Node, port: number, data: Buffer): Promise<string | null> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const local = sock.address().port;
  const payload = Buffer.from(data.toString('latin1').replaceAll('PORT', String(local)), 'latin1');
  try {
    return await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 1500);
      sock.on('message', (m) => {
        const text = m.toString('latin1');
        if (text.startsWith('SIP/2.0 100 ')) return; // a Trying would mean it was accepted; keep waiting
        clearTimeout(timer);
        resolve(text);
      });
      sock.send(payload, port, '127.0.0.1');
    });
  } finally {
    sock.close();
    void node;
  }
}

const cases: Array<[string, Buffer, RegExp]> = [
  ['missing Call-ID', base({ 'Call-ID': null }), /^SIP\/2\.0 400 .*Call-ID/],
  ['missing From', base({ From: null }), /^SIP\/2\.0 400 .*From/],
  ['CSeq method mismatch', base({ CSeq: '1 BYE' }), /^SIP\/2\.0 400 /],
  ['non-numeric Max-Forwards', base({ 'Max-Forwards': 'ten' }), /^SIP\/2\.0 400 .*Max-Forwards/i],
  ['two different Content-Length', base({ 'Content-Length': '0\r\nContent-Length: 5' }), /^SIP\/2\.0 400 /],
  ['unsupported Request-URI scheme', base({}, 'INVITE http://example.com/ SIP/2.0'), /^SIP\/2\.0 416 /],
  ['unknown SIP version', base({}, 'INVITE sip:service@127.0.0.1 SIP/7.0'), /^SIP\/2\.0 505 /],
  ['unsupported Proxy-Require', base({ 'Proxy-Require': 'x-unknown-ext' }), /^SIP\/2\.0 420 [^]*Unsupported: x-unknown-ext/],
  ['Max-Forwards 0', base({ 'Max-Forwards': '0' }), /^SIP\/2\.0 483 /],
];

test('malformed requests get an error response with a reason, and the node carries on', async (t) => {
  const port = await freePort();
  const node = await startNode(proxyYaml(port, 9));
  try {
    for (const [name, data, expected] of cases) {
      const answer = await exchange(node, port, data);
      t.truthy(answer, `${name}: no answer`);
      t.regex(answer ?? '', expected, name);
    }
    // Garbage is dropped and counted, never answered, never fatal.
    const before = node.metrics.counters().sip_parse_errors_total;
    t.is(await exchange(node, port, Buffer.from('\x00\x01garbage\r\n\r\n', 'latin1')), null);
    const after = node.metrics.counters().sip_parse_errors_total;
    t.true(after > before, `parse errors counted (${before} -> ${after})`);
    // Still alive: OPTIONS to the node is answered.
    const ok = await exchange(node, port, base({ CSeq: '2 OPTIONS' }, 'OPTIONS sip:127.0.0.1:' + port + ' SIP/2.0'));
    t.regex(ok ?? '', /^SIP\/2\.0 200 /);
  } finally {
    await node.stop();
  }
});
