import test from 'ava';
import { parseMessage } from '../../../src/sip/parser.js';
import { buildAck, buildCancel, buildResponse, reasonPhrase } from '../../../src/sip/response.js';
import { validateRequest, validateResponse } from '../../../src/sip/validate.js';

const INVITE = Buffer.from(
  [
    'INVITE sip:bob@biloxi.example.com SIP/2.0',
    'Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1, SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9',
    'v: SIP/2.0/TCP  client.example.com ;branch=z9hG4bKc1',
    'Max-Forwards: 69',
    'Route: <sip:p1.example.com;lr>',
    'Route: <sip:p2.example.com;lr>',
    'f: "Zoë" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
    'To: Bob <sip:bob@biloxi.example.com>',
    'Call-ID: 3848276298220188511@atlanta.example.com',
    'CSeq: 314 INVITE',
    'Timestamp: 54',
    'Contact: <sip:alice@pc33.atlanta.example.com>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
  'latin1',
);
// The display name is UTF-8 on the wire; the model keeps it as latin1 bytes.
const INVITE_UTF8 = Buffer.from(INVITE.toString('latin1').replace('Zoë', 'Zo\xc3\xab'), 'latin1');
const invite = () => parseMessage(INVITE_UTF8);

test('reasonPhrase: table and class fallback', (t) => {
  t.is(reasonPhrase(100), 'Trying');
  t.is(reasonPhrase(416), 'Unsupported URI Scheme');
  t.is(reasonPhrase(483), 'Too Many Hops');
  t.is(reasonPhrase(499), 'Client Error');
  t.is(reasonPhrase(699), 'Global Failure');
});

test('buildResponse copies Vias raw in order, From, To+tag, Call-ID, CSeq', (t) => {
  const req = invite();
  const res = buildResponse(req, 486, { toTag: 'abc123' });
  const text = res.toString();
  t.true(text.startsWith('SIP/2.0 486 Busy Here\r\n'));
  const viaRaws = req.fields('via').map((h) => h.raw).join('');
  t.true(text.includes(viaRaws));
  t.deepEqual(res.vias.map((v) => v.branch), ['z9hG4bKp1', 'z9hG4bK74bf9', 'z9hG4bKc1']);
  t.is(res.toTag, 'abc123');
  t.is(res.fromTag, '9fxced76sl');
  t.true(text.includes('f: "Zo\xc3\xab" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'));
  t.is(res.callId, req.callId);
  t.deepEqual(res.cseq, { seq: 314, method: 'INVITE' });
  t.is(res.method, 'INVITE');
  t.false(res.has('timestamp'));
  t.false(res.has('contact'));
  t.is(res.get('content-length'), '0');
  t.is(validateResponse(parseMessage(res.serialize())), null);
});

test('100 Trying: no To tag even when asked, Timestamp copied', (t) => {
  const res = buildResponse(invite(), 100, { toTag: 'abc' });
  t.is(res.toTag, undefined);
  t.is(res.get('timestamp'), '54');
  t.is(res.reason, 'Trying');
});

test('existing To tag kept; custom reason, extra headers and a body', (t) => {
  const req = parseMessage(Buffer.from(INVITE.toString('latin1').replace('To: Bob <sip:bob@biloxi.example.com>', 'To: <sip:bob@biloxi.example.com>;tag=orig'), 'latin1'));
  const body = Buffer.from('v=0\r\n');
  const res = buildResponse(req, 200, {
    reason: 'Fine\r\nInjected: yes',
    toTag: 'new',
    headers: [['Contact', '<sip:bob@192.0.2.4>']],
    body,
    contentType: 'application/sdp',
  });
  t.is(res.toTag, 'orig');
  t.is(res.reason, 'Fine Injected: yes');
  t.is(res.get('contact'), '<sip:bob@192.0.2.4>');
  const parsed = parseMessage(res.serialize());
  t.is(parsed.get('content-type'), 'application/sdp');
  t.is(parsed.get('content-length'), '5');
  t.true(parsed.body.equals(body));
});

test('buildResponse to a request with broken headers copies what exists', (t) => {
  const req = parseMessage(Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: "unterminated <sip:a@b>\r\nCSeq: 1 INVITE\r\n\r\n'));
  const res = buildResponse(req, 400, { reason: 'Bad To header: Unterminated quoted string', toTag: 'x' });
  t.is(res.get('to'), '"unterminated <sip:a@b>');
  t.false(res.has('from'));
  t.true(res.toString().startsWith('SIP/2.0 400 Bad To header: Unterminated quoted string\r\n'));
});

test('buildAck: R-URI, top Via only, To from the response, CSeq ACK, Routes', (t) => {
  const req = invite();
  const res = buildResponse(req, 486, { toTag: 'to-tag-1' });
  const ack = buildAck(req, res);
  t.is(ack.method, 'ACK');
  t.is(ack.uri, 'sip:bob@biloxi.example.com');
  t.is(ack.vias.length, 1);
  t.is(ack.topVia.branch, 'z9hG4bKp1');
  t.is(ack.toTag, 'to-tag-1');
  t.is(ack.fromTag, '9fxced76sl');
  t.is(ack.callId, req.callId);
  t.deepEqual(ack.cseq, { seq: 314, method: 'ACK' });
  t.deepEqual(ack.getAll('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  t.is(ack.get('max-forwards'), '70');
  t.is(ack.get('content-length'), '0');
  t.false(ack.has('contact'));
  t.is(validateRequest(parseMessage(ack.serialize())), null);
});

test('buildCancel: same R-URI, top Via (kept raw when alone), To without tag, CSeq CANCEL', (t) => {
  const single = parseMessage(Buffer.from(INVITE.toString('latin1').replace(/^Via: .*\r\n/m, ''), 'latin1'));
  const cancel = buildCancel(single);
  t.is(cancel.method, 'CANCEL');
  t.is(cancel.uri, single.uri);
  t.is(cancel.fields('via')[0]!.raw, 'v: SIP/2.0/TCP  client.example.com ;branch=z9hG4bKc1\r\n');
  t.is(cancel.toTag, undefined);
  t.deepEqual(cancel.cseq, { seq: 314, method: 'CANCEL' });
  t.is(cancel.getAll('route').length, 2);
  t.is(validateRequest(parseMessage(cancel.serialize())), null);
});
