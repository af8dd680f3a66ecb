// Errors found after the headers were split carry the partial message, so a server can answer.

import test from 'ava';
import { SipParseError } from '../../../src/core/errors.js';
import type { SipMessage } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';

const head = (startLine: string, extra: string[] = []) =>
  Buffer.from(
    [startLine, 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'Call-ID: p1', 'CSeq: 1 INVITE', ...extra, '', ''].join('\r\n'),
    'latin1',
  );

function partialOf(buf: Buffer, opts?: { stream?: boolean }): SipParseError<SipMessage> {
  const err = (() => {
    try {
      parseMessage(buf, opts);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof SipParseError)) throw new Error('expected a SipParseError');
  return err;
}

test('an unknown SIP version is a 505 with the request attached', (t) => {
  const err = partialOf(head('INVITE sip:c@d SIP/3.0', ['Content-Length: 0']));
  t.is(err.status, 505);
  t.is(err.partial?.method, 'INVITE');
  t.is(err.partial?.callId, 'p1');
});

test('conflicting Content-Length is a 400 with the request attached', (t) => {
  const err = partialOf(head('INVITE sip:c@d SIP/2.0', ['Content-Length: 0', 'Content-Length: 4']));
  t.is(err.status, 400);
  t.regex(err.message, /Content-Length/);
  t.truthy(err.partial?.topVia);
});

test('a truncated body and a stream without Content-Length carry the message too', (t) => {
  t.truthy(partialOf(head('INVITE sip:c@d SIP/2.0', ['Content-Length: 50'])).partial);
  t.truthy(partialOf(head('INVITE sip:c@d SIP/2.0'), { stream: true }).partial);
});

test('a broken start line has nothing to answer to', (t) => {
  const err = partialOf(Buffer.from('garbage\r\n\r\n', 'latin1'));
  t.is(err.partial, undefined);
});

test('a request read on past a structural error carries what was read, when a Via was found', (t) => {
  const full = head('INVITE sip:c@d SIP/2.0', ['Content-Length: 0']);
  const truncated = partialOf(full.subarray(0, full.indexOf('Call-ID')));
  t.is(truncated.message, 'Missing empty line after headers');
  t.is(truncated.partial?.topVia.branch, 'z9hG4bKp');
  t.is(truncated.partial?.get('to'), '<sip:c@d>');

  const brokenLine = partialOf(head('INVITE sip:c@d SIP/2.0', ['No colon here', 'Content-Length: 0']));
  t.is(brokenLine.message, 'Malformed header line');
  t.is(brokenLine.partial?.callId, 'p1', 'the lines after the broken one are read too');

  const badRequestLine = partialOf(head('ACK  sip:c@d SIP/2.0', ['Content-Length: 0']));
  t.is(badRequestLine.message, 'Extra whitespace in request line');
  t.is(badRequestLine.partial?.method, 'ACK', 'an ACK stays recognisable (never answered)');

  const badLength = partialOf(head('INVITE sip:c@d SIP/2.0', ['Content-Length: lots']));
  t.truthy(badLength.partial);
});

test('no partial without a Via, nor for a broken status line', (t) => {
  t.is(partialOf(Buffer.from('INVITE sip:c@d SIP/2.0\r\nFrom: <sip:a@b>\r\nbroken\r\n\r\n', 'latin1')).partial, undefined);
  t.is(partialOf(Buffer.from('SIP/2.0 99 x\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKq\r\n\r\n', 'latin1')).partial, undefined);
});
