// The strict checks a proxy runs before acting on a message (RFC 3261 16.3,
// RFC 4475 3.1.2 and 3.3). parseMessage only frames; this parses every header
// the proxy relies on and says, as a status and a reason phrase, what is wrong.

import { SipParseError } from '../core/errors.js';
import { parseMaxForwards, parseNameAddr } from './headers.js';
import type { SipMessage } from './message.js';
import { parseUriShared } from './uri.js';

export interface Rejection {
  status: number;
  /** Short ASCII reason phrase, no CR/LF. */
  reason: string;
}

const SUPPORTED_SCHEMES = new Set(['sip', 'sips', 'tel']);

// Methods RFC 3261 and its extensions define; a CSeq mismatch on anything else
// gets 501 rather than 400 (RFC 4475 3.1.2.18 mismatch02).
const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE',
  'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE',
]);

/** null when the request is fit for a proxy to act on, else the response to send. */
export function validateRequest(msg: SipMessage): Rejection | null {
  const bad = checkCommon(msg);
  if (bad) return bad;
  let scheme: string;
  try {
    const ruri = parseUriShared(msg.uri);
    if (ruri.headers.length) return reject(400, 'Headers not allowed in Request-URI');
    scheme = ruri.scheme;
  } catch (e) {
    return fromError(e, 'Request-URI');
  }
  if (!SUPPORTED_SCHEMES.has(scheme)) return reject(416, 'Unsupported URI Scheme');
  const cseq = msg.cseq; // parsed by checkCommon
  if (cseq.method !== msg.method) {
    return reject(KNOWN_METHODS.has(msg.method) ? 400 : 501, 'CSeq method mismatch');
  }
  for (const via of msg.vias) {
    // "z9hG4bK" alone claims RFC 3261 branches but carries no identifier
    // (RFC 4475 3.2.1 badbranch): every such request would match one transaction.
    if (via.branch === 'z9hG4bK') return reject(400, 'Malformed Via branch');
  }
  const mf = msg.get('max-forwards');
  if (mf !== undefined) {
    try {
      parseMaxForwards(mf);
    } catch (e) {
      return fromError(e, 'Max-Forwards header');
    }
  }
  return null;
}

/** null when a response may be processed, else why it must be dropped (status is informational). */
export function validateResponse(msg: SipMessage): Rejection | null {
  return checkCommon(msg);
}

function checkCommon(msg: SipMessage): Rejection | null {
  let via = 0;
  let from = 0;
  let to = 0;
  let callId = 0;
  let cseq = 0;
  let maxForwards = 0;
  for (const h of msg.headers) {
    switch (h.key) {
      case 'via': via++; break;
      case 'from': from++; break;
      case 'to': to++; break;
      case 'call-id': callId++; break;
      case 'cseq': cseq++; break;
      case 'max-forwards': maxForwards++; break;
    }
  }
  // Missing first (in this order), then duplicates: the same answers as before, without a table per message.
  if (via === 0) return reject(400, 'Missing Via header');
  if (from === 0) return reject(400, 'Missing From header');
  if (to === 0) return reject(400, 'Missing To header');
  if (callId === 0) return reject(400, 'Missing Call-ID header');
  if (cseq === 0) return reject(400, 'Missing CSeq header');
  if (from > 1) return reject(400, 'Multiple From headers');
  if (to > 1) return reject(400, 'Multiple To headers');
  if (callId > 1) return reject(400, 'Multiple Call-ID headers');
  if (cseq > 1) return reject(400, 'Multiple CSeq headers');
  if (maxForwards > 1) return reject(400, 'Multiple Max-Forwards headers');

  const id = msg.callId;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return reject(400, 'Bad Call-ID header');
  }
  try {
    msg.vias;
  } catch (e) {
    return fromError(e, 'Via header');
  }
  if (msg.vias.length === 0) return reject(400, 'Missing Via header');
  try {
    if (msg.from.star) return reject(400, 'Bad From header: * not allowed');
  } catch (e) {
    return fromError(e, 'From header');
  }
  try {
    if (msg.to.star) return reject(400, 'Bad To header: * not allowed');
  } catch (e) {
    return fromError(e, 'To header');
  }
  try {
    msg.cseq;
  } catch (e) {
    return fromError(e, 'CSeq header');
  }
  if (msg.has('contact')) {
    const contacts = msg.getAll('contact');
    for (const c of contacts) {
      try {
        if (parseNameAddr(c).star && contacts.length > 1) return reject(400, 'Bad Contact header: * with other values');
      } catch (e) {
        return fromError(e, 'Contact header');
      }
    }
  }
  const date = msg.get('date');
  if (date !== undefined && !isRfc1123Gmt(date)) return reject(400, 'Bad Date header');
  return null;
}

function reject(status: number, reason: string): Rejection {
  return { status, reason };
}

function fromError(e: unknown, what: string): Rejection {
  if (e instanceof SipParseError) return { status: e.status, reason: `Bad ${what}: ${e.message}` };
  // A bug in a parser must still not take the proxy down: reject the message instead.
  return { status: 400, reason: `Bad ${what}` };
}

const WKDAY = new Set(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']);
const MONTH = new Set(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']);

/** `Sun, 06 Nov 1994 08:49:37 GMT` exactly (RFC 3261 20.17: rfc1123-date, GMT only). */
export function isRfc1123Gmt(s: string): boolean {
  if (s.length !== 29) return false;
  if (!WKDAY.has(s.slice(0, 3)) || s.slice(3, 5) !== ', ' || !MONTH.has(s.slice(8, 11))) return false;
  if (s[7] !== ' ' || s[11] !== ' ' || s[16] !== ' ' || s[19] !== ':' || s[22] !== ':' || s.slice(25) !== ' GMT') {
    return false;
  }
  for (const at of [5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24]) {
    const c = s.charCodeAt(at);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}
