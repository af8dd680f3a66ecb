// Headers the proxy does not touch pass through byte for byte (odd case, compact
// names, folding, UTF-8, unknown headers), over IPv4 and IPv6.

import test from 'ava';
import { createSocket, type Socket } from 'node:dgram';
import { freePort, startNode } from './harness.js';

function bind(family: 'udp4' | 'udp6', address: string): Promise<Socket> {
  const s = createSocket(family);
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => resolve(s));
  });
}

function nextMessage(s: Socket, skip: RegExp = /^SIP\/2\.0 100 /): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('nothing received')), 3000);
    const on = (m: Buffer) => {
      if (skip.test(m.toString('latin1'))) return;
      clearTimeout(timer);
      s.off('message', on);
      resolve(m);
    };
    s.on('message', on);
  });
}

const ODD_LINES = [
  'sUbJeCt : Grüße aus Köln',
  'X-Folded: first part,\r\n   second part',
  'l: 0',
  'X-Unknown-Thing:value;with=params;and="quoted, comma"',
];

for (const [family, host] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
  test(`${family}: untouched headers leave the proxy byte for byte`, async (t) => {
    const hostPart = family === 'udp6' ? `[${host}]` : host;
    const uas = await bind(family, host);
    const uac = await bind(family, host);
    const proxyPort = await freePort();
    const node = await startNode(`
node: { id: 9 }
listen: [{ transport: udp, address: "${host}", port: ${proxyPort} }]
routes:
  - targets: ["sip:${hostPart}:${uas.address().port}"]
admin: { enabled: false }
log: { level: error }
`);
    try {
      const invite = Buffer.from(
        [
          `INVITE sip:carol@example.com SIP/2.0`,
          `v: SIP/2.0/UDP ${hostPart}:${uac.address().port};branch=z9hG4bK-pass-${family}`,
          'f: "Zoë" <sip:zoe@example.com>;tag=88',
          't: <sip:carol@example.com>',
          `i: pass-${family}@example.com`,
          'CSeq: 1 INVITE',
          'Max-Forwards: 9',
          ...ODD_LINES,
          '',
          '',
        ].join('\r\n'),
        'utf8',
      );
      const forwarded = nextMessage(uas);
      uac.send(invite, proxyPort, host);
      const out = (await forwarded).toString('latin1');
      const sent = invite.toString('latin1');
      for (const line of [...ODD_LINES, 'f: "Zoë" <sip:zoe@example.com>;tag=88', 't: <sip:carol@example.com>']) {
        const wire = Buffer.from(line, 'utf8').toString('latin1');
        t.true(sent.includes(wire) && out.includes(wire + '\r\n'), `passes byte-exact: ${line}`);
      }
      t.regex(out, /^INVITE sip:carol@example\.com SIP\/2\.0\r\n/);
      t.regex(out, /\r\nMax-Forwards: 8\r\n/, 'Max-Forwards decremented');
      t.regex(out, new RegExp(`^Via: SIP/2\\.0/UDP ${hostPart.replace(/[[\]]/g, '\\$&')}:${proxyPort};branch=z9hG4bK\\.`, 'm'), 'our Via on top');
      t.regex(out, /^Record-Route: <sip:.*;lr;d=[A-Za-z0-9_-]{8}>\r$/m);
    } finally {
      uas.close();
      uac.close();
      await node.stop();
    }
  });
}
