// buildLocalResponse and its To tag (RFC 3261 8.2.6.2), and the rule that
// every response built outside src/sip goes through it.

import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLocalResponse, ToTagKey } from '../../../src/sip/local-response.js';
import { SipMessage } from '../../../src/sip/message.js';

function request(method: string, over: Record<string, string> = {}): SipMessage {
  const m = SipMessage.request(method, 'sip:bob@example.com');
  const h: Record<string, string> = {
    Via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-a',
    From: '<sip:alice@example.com>;tag=f1',
    To: '<sip:bob@example.com>',
    'Call-ID': 'c1',
    CSeq: `7 ${method}`,
    ...over,
  };
  for (const [k, v] of Object.entries(h)) m.append(k, v);
  return m;
}

const key = new ToTagKey('unit-secret-0123456789');

test('a To without a tag gets one; a To with a tag keeps it', (t) => {
  t.regex(buildLocalResponse(request('OPTIONS'), 200, key).toTag ?? '', /^[0-9a-f]{16}$/);
  t.is(buildLocalResponse(request('BYE', { To: '<sip:bob@example.com>;tag=x' }), 404, key).toTag, 'x');
  t.is(buildLocalResponse(request('INVITE'), 100, key).toTag, undefined, 'never on 100');
  t.is(buildLocalResponse(request('INVITE'), 404, key, { toTag: 'given' }).toTag, 'given');
});

test('the tag depends on Call-ID, From tag, CSeq number and top Via branch only', (t) => {
  const base = key.tagFor(request('INVITE'));
  t.is(key.tagFor(request('INVITE')), base, 'a retransmission');
  t.is(new ToTagKey('unit-secret-0123456789').tagFor(request('INVITE')), base, 'another node, same secret');
  t.is(key.tagFor(request('CANCEL')), base, 'a CANCEL: its 200 and a 487 to the INVITE agree (9.2)');
  t.not(new ToTagKey('other-secret-0123456789').tagFor(request('INVITE')), base);
  for (const [name, value] of [
    ['Call-ID', 'c2'],
    ['From', '<sip:alice@example.com>;tag=f2'],
    ['CSeq', '8 INVITE'],
    ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-b'],
  ] as const) {
    t.not(key.tagFor(request('INVITE', { [name]: value })), base, name);
  }
});

test('a request with broken or missing headers still gets a tag, without throwing', (t) => {
  const m = SipMessage.request('INVITE', 'sip:bob@example.com');
  m.append('Via', 'garbage');
  m.append('From', '<<<');
  m.append('To', '<sip:bob@example.com>');
  m.append('CSeq', 'x');
  const res = buildLocalResponse(m, 400, key, { reason: 'Bad CSeq' });
  t.regex(res.toTag ?? '', /^[0-9a-f]{16}$/);
});

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no code outside src/sip builds a response without the To tag rule (buildResponse)', (t) => {
  const src = fileURLToPath(new URL('../../../src/', import.meta.url));
  const offenders = sources(src)
    .filter((p) => !relative(src, p).startsWith('sip'))
    .filter((p) => /\bbuildResponse\(/.test(readFileSync(p, 'utf8')))
    .map((p) => relative(src, p));
  t.deepEqual(offenders, [], 'use buildLocalResponse (src/sip/local-response.ts)');
});
