// Wire bytes -> SipMessage. One complete message per call: framing a stream
// is the transport's job. Only the start line, header boundaries and
// Content-Length are checked here; header values are parsed lazily by the
// model and strictly by validate.ts.
//
// A broken request is read on as far as it goes (a truncated head, a broken
// header line, a bad request line): the error thrown carries what was read as
// `partial`, so ingress can still answer 400 to its Via. Only the first
// error is reported.

import { SipParseError } from '../core/errors.js';
import { isToken, isWs, trimLws } from './chars.js';
import { headerKey } from './header-names.js';
import { parseContentLength } from './headers.js';
import { SipMessage, type HeaderField, type StartLine } from './message.js';

export interface ParseOptions {
  /** Arrived on a stream transport: Content-Length is then mandatory (RFC 3261 18.3). */
  stream?: boolean;
}

const LF = 0x0a;
const CR = 0x0d;

export function parseMessage(buf: Buffer, opts?: ParseOptions): SipMessage {
  const len = buf.length;
  // Leading CRLFs (keep-alives, RFC 3261 7.5) are skipped.
  let start = 0;
  while (start < len && (buf[start] === CR || buf[start] === LF)) start++;
  if (start >= len) throw new SipParseError('Empty message');

  // The header section ends at the first empty line (CRLF, or a bare LF for lenience).
  let headEnd = -1;
  let bodyStart = -1;
  for (let pos = start; ; ) {
    const nl = buf.indexOf(LF, pos);
    if (nl < 0) break;
    const next = nl + 1;
    if (buf[next] === LF) {
      headEnd = next;
      bodyStart = next + 1;
      break;
    }
    if (buf[next] === CR && buf[next + 1] === LF) {
      headEnd = next;
      bodyStart = next + 2;
      break;
    }
    pos = next;
  }
  // Structural errors: the message is read on, and carries `partial` only when a Via was found.
  let early: SipParseError | undefined;
  let head: string;
  if (headEnd < 0) {
    // Truncated (a cut datagram, trash): the header lines that are there may still carry a Via.
    early = new SipParseError('Missing empty line after headers');
    head = buf.toString('latin1', start, len);
    if (!head.endsWith('\n')) head += '\n';
    headEnd = bodyStart = len;
  } else {
    head = buf.toString('latin1', start, headEnd);
  }
  const firstNl = head.indexOf('\n');
  let startLine: StartLine;
  try {
    startLine = parseStartLine(stripCr(head.slice(0, firstNl)));
  } catch (err) {
    // A response is never answered; a request line we cannot read still has headers to answer to.
    if (isSipVersionPrefix(head) || !(err instanceof SipParseError)) throw err;
    early ??= err;
    startLine = salvagedRequestLine(head.slice(0, firstNl));
  }
  // Errors found once the headers are split are thrown at the end, with the
  // message attached, so a server can still answer (505, 400) instead of dropping.
  let late: SipParseError | undefined = versionError(startLine.version);

  const headers: HeaderField[] = [];
  let contentLength: number | undefined;
  let i = firstNl + 1;
  const n = head.length;
  while (i < n) {
    const c0 = head.charCodeAt(i);
    // A field runs to the first line end not followed by SP/HTAB (folding).
    let end = head.indexOf('\n', i);
    let folded = false;
    while (end + 1 < n && isWs(head.charCodeAt(end + 1))) {
      folded = true;
      end = head.indexOf('\n', end + 1);
    }
    if (isWs(c0)) {
      early ??= new SipParseError('Unexpected continuation line');
      i = end + 1;
      continue;
    }
    const raw = head.slice(i, end + 1);
    let j = 0;
    while (j < raw.length && isTokenCharCode(raw.charCodeAt(j))) j++;
    const name = internName(raw.slice(0, j));
    let k = j;
    while (k < raw.length && isWs(raw.charCodeAt(k))) k++;
    if (j === 0 || raw.charCodeAt(k) !== 0x3a /* : */) {
      early ??= new SipParseError('Malformed header line');
      i = end + 1;
      continue;
    }
    let value = raw.slice(k + 1);
    // Unfold: each line break plus the whitespace after it becomes one SP.
    if (folded) value = value.replace(/\r?\n[ \t]+/g, ' ');
    value = trimLws(value);
    const key = headerKey(name);
    if (key === 'content-length') {
      let cl: number;
      try {
        cl = parseContentLength(value);
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        early ??= err;
        i = end + 1;
        continue;
      }
      if (contentLength !== undefined && cl !== contentLength) late ??= new SipParseError('Conflicting Content-Length');
      contentLength ??= cl;
    }
    headers.push({ name, key, value, raw });
    i = end + 1;
  }

  const available = len - bodyStart;
  let body: Buffer;
  if (contentLength === 0 || (contentLength === undefined && available <= 0)) {
    // No body: share one empty buffer rather than a view that keeps the whole datagram alive.
    if (contentLength === undefined && opts?.stream) late ??= new SipParseError('Missing Content-Length');
    body = EMPTY_BODY;
  } else if (contentLength === undefined) {
    if (opts?.stream) late ??= new SipParseError('Missing Content-Length');
    body = buf.subarray(bodyStart);
  } else if (contentLength > available) {
    late ??= new SipParseError('Truncated body');
    body = buf.subarray(bodyStart);
  } else {
    // Extra bytes after the body are dropped (RFC 3261 18.3). A view, no copy: a message kept long
    // is detached from the input (a lingering request as text, src/tm/frozen.ts; a response by compact()).
    body = buf.subarray(bodyStart, bodyStart + contentLength);
  }
  const msg = new SipMessage(startLine, headers, body);
  if (early) {
    if (startLine.kind === 'request' && headers.some((h) => h.key === 'via')) early.partial = msg;
    throw early;
  }
  if (late) {
    late.partial = msg;
    throw late;
  }
  return msg;
}

/** The method of a request line that does not parse, when it is a token; the rest is not needed to answer. */
function salvagedRequestLine(line: string): StartLine {
  const sp = line.indexOf(' ');
  const method = sp > 0 ? line.slice(0, sp) : '';
  return { kind: 'request', method: isToken(method) ? method : '', uri: '', version: 'SIP/2.0' };
}

const EMPTY_BODY = Buffer.alloc(0);

// Header names as written on the wire, interned: a message kept for a while (a transaction's request)
// then shares one string per spelling instead of holding its own copies. Bounded against odd input.
const NAMES = new Map<string, string>();
const NAMES_MAX = 512;

function internName(name: string): string {
  const known = NAMES.get(name);
  if (known !== undefined) return known;
  if (NAMES.size < NAMES_MAX) NAMES.set(name, name);
  return name;
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line;
}

function isTokenCharCode(c: number): boolean {
  // Inline-able twin of chars.isTokenChar for the header-name loop.
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a || c === 0x5f ||
    c === 0x2b || c === 0x60 || c === 0x27 || c === 0x7e
  );
}

function parseStartLine(line: string): StartLine {
  const sp1 = line.indexOf(' ');
  if (sp1 <= 0) throw new SipParseError('Malformed start line');
  if (isSipVersionPrefix(line)) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    const version = line.slice(0, sp1);
    checkVersionSyntax(version);
    const c = line.charCodeAt(sp1 + 4);
    if (!isDigits3(line, sp1 + 1) || !(Number.isNaN(c) || c === 0x20)) throw new SipParseError('Bad status code');
    const status = Number(line.slice(sp1 + 1, sp1 + 4));
    if (status < 100 || status > 699) throw new SipParseError('Bad status code');
    return { kind: 'response', status, reason: line.slice(sp1 + 5), version };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version, single spaces only (RFC 4475 lwsstart, trws).
  const method = line.slice(0, sp1);
  if (!isToken(method)) throw new SipParseError('Bad method');
  const sp2 = line.lastIndexOf(' ');
  if (sp2 === sp1) throw new SipParseError('Malformed request line');
  const uri = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (version.length === 0) throw new SipParseError('Trailing whitespace in request line');
  if (uri.length === 0 || isWs(uri.charCodeAt(0)) || isWs(uri.charCodeAt(uri.length - 1))) {
    throw new SipParseError('Extra whitespace in request line');
  }
  if (uri.indexOf(' ') >= 0 || uri.indexOf('\t') >= 0) throw new SipParseError('Whitespace in Request-URI');
  checkVersionSyntax(version);
  return { kind: 'request', method, uri, version };
}

function isSipVersionPrefix(line: string): boolean {
  return line.length > 4 && line.slice(0, 4).toUpperCase() === 'SIP/';
}

function isDigits3(s: string, p: number): boolean {
  for (let i = p; i < p + 3; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 0x30 && c <= 0x39)) return false;
  }
  return true;
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT */
function checkVersionSyntax(v: string): void {
  if (v === 'SIP/2.0') return;
  const dot = v.indexOf('.', 4);
  const major = dot < 0 ? '' : v.slice(4, dot);
  const minor = dot < 0 ? '' : v.slice(dot + 1);
  if (!isSipVersionPrefix(v) || !/^\d+$/.test(major) || !/^\d+$/.test(minor)) {
    throw new SipParseError('Malformed SIP version');
  }
}

/** A well-formed version other than 2.0 gets 505. */
function versionError(v: string): SipParseError | undefined {
  if (v === 'SIP/2.0') return undefined;
  const dot = v.indexOf('.', 4);
  if (Number(v.slice(4, dot)) === 2 && Number(v.slice(dot + 1)) === 0) return undefined;
  return new SipParseError('Version Not Supported', 505);
}
