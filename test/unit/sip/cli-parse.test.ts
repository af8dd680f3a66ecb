import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runParse } from '../../../src/cli/parse.js';

function sink() {
  const s = new PassThrough();
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return { stream: s, text: () => Buffer.concat(chunks).toString('utf8') };
}

const dir = mkdtempSync(join(tmpdir(), 'anysip-parse-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const GOOD = Buffer.from(
  'INVITE sip:bob@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK1;rport\r\n' +
    'From: "Zoë" <sip:zoe@example.com>;tag=a\r\n' +
    'To: <sip:bob@example.com>\r\n' +
    'Call-ID: c1@example.com\r\n' +
    'CSeq: 7 INVITE\r\n' +
    'X-Note: café\r\n' +
    'Content-Length: 6\r\n' +
    '\r\n' +
    'héllo',
  'utf8',
);

test('valid file: exit 0 and JSON with decoded UTF-8', async (t) => {
  const file = join(dir, 'good.sip');
  writeFileSync(file, GOOD);
  const out = sink();
  const err = sink();
  const code = await runParse(file, out.stream, err.stream);
  t.is(code, 0);
  t.is(err.text(), '');
  const json = JSON.parse(out.text());
  t.is(json.type, 'request');
  t.is(json.method, 'INVITE');
  t.is(json.uri, 'sip:bob@example.com');
  t.is(json.from.displayName, 'Zoë');
  t.deepEqual(json.from.params, { tag: 'a' });
  t.is(json.to.uri, 'sip:bob@example.com');
  t.is(json.callId, 'c1@example.com');
  t.deepEqual(json.cseq, { seq: 7, method: 'INVITE' });
  t.is(json.via[0].host, '[2001:db8::1]');
  t.is(json.via[0].port, 5070);
  t.is(json.via[0].rport, null);
  t.deepEqual(json.headers[5], { name: 'X-Note', value: 'café' });
  t.is(json.body, 'héllo');
  t.true(out.text().includes('\n  "type": "request"'));
});

test('stdin with "-" and a response', async (t) => {
  const out = sink();
  const err = sink();
  const input = Readable.from([Buffer.from('SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n')]);
  const code = await runParse('-', out.stream, err.stream, input);
  t.is(code, 0);
  const json = JSON.parse(out.text());
  t.is(json.type, 'response');
  t.is(json.status, 180);
  t.is(json.reason, 'Ringing');
  t.is(json.method, 'INVITE');
  t.is(json.uri, undefined);
});

test('parse error: exit 1, one line on stderr with status and reason', async (t) => {
  const file = join(dir, 'badvers.sip');
  writeFileSync(file, 'OPTIONS sip:a@b SIP/7.0\r\n\r\n');
  const out = sink();
  const err = sink();
  t.is(await runParse(file, out.stream, err.stream), 1);
  t.is(out.text(), '');
  t.is(err.text(), `anysip parse: ${file}: 505 Version Not Supported\n`);
});

test('validation error: exit 1 with the validator reason', async (t) => {
  const file = join(dir, 'insuf.sip');
  writeFileSync(file, 'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n');
  const err = sink();
  t.is(await runParse(file, sink().stream, err.stream), 1);
  t.is(err.text(), `anysip parse: ${file}: 400 Missing From header\n`);
});

test('unreadable file: exit 1, one line', async (t) => {
  const err = sink();
  const file = join(dir, 'nope.sip');
  t.is(await runParse(file, sink().stream, err.stream), 1);
  t.is(err.text(), `anysip parse: ${file}: cannot read (ENOENT)\n`);
});
