// Locally generated messages: responses (RFC 3261 8.2.6), the ACK for a
// non-2xx final response (17.1.1.3) and CANCEL (9.1). Copied fields keep
// their wire text, so Via/From/To/Call-ID/CSeq echo byte for byte.

import { parseNameAddr } from './headers.js';
import { splitHeaderList } from './header-names.js';
import { SipMessage, type HeaderField } from './message.js';

const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued',
  183: 'Session Progress', 199: 'Early Dialog Terminated',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily',
  305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  407: 'Proxy Authentication Required', 408: 'Request Timeout', 410: 'Gone',
  412: 'Conditional Request Failed', 413: 'Request Entity Too Large',
  414: 'Request-URI Too Long', 415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority', 420: 'Bad Extension', 421: 'Extension Required',
  422: 'Session Interval Too Small', 423: 'Interval Too Brief', 428: 'Use Identity Header',
  429: 'Provide Referrer Identity', 430: 'Flow Failed', 433: 'Anonymity Disallowed',
  436: 'Bad Identity-Info', 437: 'Unsupported Certificate', 438: 'Invalid Identity Header',
  439: 'First Hop Lacks Outbound Support', 440: 'Max-Breadth Exceeded', 469: 'Bad Info Package',
  470: 'Consent Needed', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete', 485: 'Ambiguous',
  486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here', 489: 'Bad Event',
  491: 'Request Pending', 493: 'Undecipherable', 494: 'Security Agreement Required',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Server Time-out', 505: 'Version Not Supported',
  513: 'Message Too Large', 555: 'Push Notification Service Not Supported',
  580: 'Precondition Failure',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
  607: 'Unwanted', 608: 'Rejected',
};

const CLASS_REASONS = ['', 'Provisional', 'Success', 'Redirection', 'Client Error', 'Server Error', 'Global Failure'];

/** Standard reason phrase, or the generic phrase of the status class. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? CLASS_REASONS[Math.floor(status / 100)] ?? 'Unknown';
}

export interface ResponseOptions {
  reason?: string;
  /** Added to To when the request's To has no tag (never on 100). */
  toTag?: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
  contentType?: string;
}

export function buildResponse(req: SipMessage, status: number, opts: ResponseOptions = {}): SipMessage {
  // A reason may come from an error message: never let it break the status line.
  const reason = (opts.reason ?? reasonPhrase(status)).replace(/[\r\n]+/g, ' ');
  const res = SipMessage.response(status, reason);
  for (const h of req.headers) if (h.key === 'via') res.headers.push({ ...h });
  copyFirst(req, res, 'from');
  const to = req.headers.find((h) => h.key === 'to');
  if (to) {
    if (status > 100 && opts.toTag !== undefined && !hasTag(to.value)) {
      res.headers.push({ name: to.name, key: 'to', value: `${to.value};tag=${opts.toTag}`, raw: null });
    } else {
      res.headers.push({ ...to });
    }
  }
  copyFirst(req, res, 'call-id');
  copyFirst(req, res, 'cseq');
  if (status === 100) copyFirst(req, res, 'timestamp');
  for (const [name, value] of opts.headers ?? []) res.append(name, value);
  if (opts.body) res.setBody(opts.body, opts.contentType);
  else {
    if (opts.contentType !== undefined) res.append('Content-Type', opts.contentType);
    res.append('Content-Length', '0');
  }
  return res;
}

function hasTag(value: string): boolean {
  try {
    return parseNameAddr(value).params.has('tag');
  } catch {
    // An unparseable To is echoed as is (it is usually why we are answering 400).
    return true;
  }
}

function copyFirst(from: SipMessage, to: SipMessage, key: string): void {
  const h = from.headers.find((f) => f.key === key);
  if (h) to.headers.push({ ...h });
}

/** The INVITE's top Via only: the field itself when it holds one value, else a new field. */
function topVia(invite: SipMessage): HeaderField | undefined {
  const h = invite.headers.find((f) => f.key === 'via');
  if (!h) return undefined;
  const values = splitHeaderList(h.value);
  if (values.length === 1) return { ...h };
  return { name: h.name, key: 'via', value: values[0] ?? '', raw: null };
}

function inDialogRequest(invite: SipMessage, method: string, toSource: SipMessage): SipMessage {
  const req = SipMessage.request(method, invite.uri);
  const via = topVia(invite);
  if (via) req.headers.push(via);
  copyFirst(invite, req, 'from');
  copyFirst(toSource, req, 'to');
  copyFirst(invite, req, 'call-id');
  req.append('CSeq', `${invite.cseq.seq} ${method}`);
  for (const h of invite.headers) if (h.key === 'route') req.headers.push({ ...h });
  req.append('Max-Forwards', '70');
  req.append('Content-Length', '0');
  return req;
}

/** ACK for a non-2xx final response to `invite` (RFC 3261 17.1.1.3): To comes from the response. */
export function buildAck(invite: SipMessage, response: SipMessage): SipMessage {
  return inDialogRequest(invite, 'ACK', response);
}

/** CANCEL for `invite` (RFC 3261 9.1). */
export function buildCancel(invite: SipMessage): SipMessage {
  return inDialogRequest(invite, 'CANCEL', invite);
}
