// Grammar of the header values the proxy core reads (RFC 3261 25.1).
// Every function throws SipParseError with a short reason for bad input.

import { SipParseError } from '../core/errors.js';
import { isDigit, isHostChar, isTokenChar, isWs, parseDecimal, skipWs, trimLws } from './chars.js';
import { endOfQuoted, formatParams, parseHeaderParams } from './params.js';
import { checkHost, parsePort, parseUri } from './uri.js';
import type { CSeq, NameAddr, Params, Via } from './types.js';

export { formatParams } from './params.js';

/** One Via value: `SIP / 2.0 / UDP host[:port] *(;param)`, LWS allowed around '/', ':', ';', '='. */
export function parseVia(value: string): Via {
  const s = value;
  const n = s.length;
  let p = skipWs(s, 0);
  const name = readToken(s, p);
  p = expectSlash(s, p + name.length);
  const version = readToken(s, p);
  p = expectSlash(s, p + version.length);
  const transport = readToken(s, p);
  if (!name || !version || !transport) throw new SipParseError('Bad Via protocol');
  p += transport.length;
  const afterProto = p;
  p = skipWs(s, p);
  if (p === afterProto || p >= n) throw new SipParseError('Missing Via sent-by');
  let hostEnd = p;
  if (s.charCodeAt(p) === 0x5b /* [ */) {
    const close = s.indexOf(']', p);
    if (close < 0) throw new SipParseError('Unterminated IPv6 reference');
    hostEnd = close + 1;
  } else {
    while (hostEnd < n && isHostChar(s.charCodeAt(hostEnd))) hostEnd++;
  }
  const host = s.slice(p, hostEnd);
  checkHost(host);
  p = skipWs(s, hostEnd);
  let port: number | undefined;
  if (p < n && s.charCodeAt(p) === 0x3a /* : */) {
    p = skipWs(s, p + 1);
    let e = p;
    while (e < n && isDigit(s.charCodeAt(e))) e++;
    port = parsePort(s.slice(p, e));
    p = e;
  }
  const params: Params = new Map();
  parseHeaderParams(s, p, params);
  const via: Via = {
    protocol: name.toUpperCase() + '/' + version,
    transport: transport.toUpperCase(),
    host,
    params,
  };
  if (port !== undefined) via.port = port;
  const branch = params.get('branch');
  if (branch !== undefined) {
    if (branch === null) throw new SipParseError('Empty Via branch');
    via.branch = branch;
  }
  const received = params.get('received');
  if (received !== undefined) {
    if (received === null) throw new SipParseError('Empty Via received');
    via.received = received;
  }
  const rport = params.get('rport');
  if (rport !== undefined) via.rport = rport === null ? null : parsePort(rport);
  const ttl = params.get('ttl');
  if (ttl !== undefined) {
    const t = ttl === null ? -1 : parseDecimal(ttl, 3);
    if (t < 0 || t > 255) throw new SipParseError('Bad Via ttl');
  }
  return via;
}

function readToken(s: string, p: number): string {
  let e = p;
  while (e < s.length && isTokenChar(s.charCodeAt(e))) e++;
  return s.slice(p, e);
}

function expectSlash(s: string, p: number): number {
  p = skipWs(s, p);
  if (s.charCodeAt(p) !== 0x2f /* / */) throw new SipParseError('Bad Via protocol');
  return skipWs(s, p + 1);
}

const STAR_URI = { scheme: '', host: '', params: new Map(), headers: [] };

/**
 * name-addr (`"Display" <uri>;params`, `token tokens <uri>`) or bare addr-spec
 * (`uri;params`: the params then belong to the header, RFC 3261 20). `*` is the
 * Contact wildcard.
 */
export function parseNameAddr(value: string): NameAddr {
  const s = trimLws(value);
  const n = s.length;
  if (n === 0) throw new SipParseError('Empty address');
  if (s === '*') return { uriText: '*', uri: { ...STAR_URI, params: new Map(), headers: [] }, params: new Map(), star: true };
  let displayName: string | undefined;
  let lt = -1;
  if (s.charCodeAt(0) === 0x22 /* " */) {
    const end = endOfQuoted(s, 0);
    displayName = s.slice(1, end - 1);
    lt = skipWs(s, end);
    if (s.charCodeAt(lt) !== 0x3c /* < */) throw new SipParseError('Expected < after display name');
  } else {
    const angle = s.indexOf('<');
    const semi = s.indexOf(';');
    if (angle >= 0 && (semi < 0 || angle < semi)) {
      lt = angle;
      const dn = trimLws(s.slice(0, angle));
      for (let i = 0; i < dn.length; i++) {
        const c = dn.charCodeAt(i);
        // Unquoted UTF-8 display names are off-grammar but common and harmless.
        if (!isTokenChar(c) && !isWs(c) && c < 0x80) throw new SipParseError('Bad display name');
      }
      if (dn.length) displayName = dn;
    }
  }
  let uriText: string;
  let p: number;
  if (lt >= 0) {
    const gt = s.indexOf('>', lt + 1);
    if (gt < 0) throw new SipParseError('Missing > in address');
    uriText = s.slice(lt + 1, gt);
    if (isWs(uriText.charCodeAt(0)) || isWs(uriText.charCodeAt(uriText.length - 1))) {
      throw new SipParseError('Whitespace inside <>');
    }
    p = gt + 1;
    if (p < n && !isWs(s.charCodeAt(p)) && s.charCodeAt(p) !== 0x3b) throw new SipParseError('Unexpected text after address');
  } else {
    p = 0;
    while (p < n && s.charCodeAt(p) !== 0x3b && !isWs(s.charCodeAt(p))) p++;
    uriText = s.slice(0, p);
    // RFC 3261 20: a URI with ',', '?' or ';' must be in <>, else it is ambiguous.
    if (uriText.indexOf('?') >= 0 || uriText.indexOf(',') >= 0) {
      throw new SipParseError('URI with ? or , must be in <>');
    }
  }
  const uri = parseUri(uriText);
  const params: Params = new Map();
  parseHeaderParams(s, p, params);
  const na: NameAddr = { uriText, uri, params };
  if (displayName !== undefined) na.displayName = displayName;
  return na;
}

/** Wire form: display name always quoted (it is stored still escaped), URI in <>. */
export function formatNameAddr(na: NameAddr): string {
  if (na.star) return '*';
  const dn = na.displayName !== undefined ? `"${na.displayName}" ` : '';
  return `${dn}<${na.uriText}>${formatParams(na.params)}`;
}

/** `1*DIGIT LWS Method`; the number must be below 2**31 (RFC 3261 8.1.1.5). */
export function parseCSeq(value: string): CSeq {
  const s = value;
  const n = s.length;
  let p = skipWs(s, 0);
  const numStart = p;
  while (p < n && isDigit(s.charCodeAt(p))) p++;
  if (p === numStart) throw new SipParseError('Bad CSeq number');
  const seq = parseDecimal(s.slice(numStart, p), 10);
  if (seq < 0 || seq >= 2 ** 31) throw new SipParseError('CSeq number too large');
  const m = skipWs(s, p);
  if (m === p) throw new SipParseError('Bad CSeq');
  const method = readToken(s, m);
  if (!method || skipWs(s, m + method.length) !== n) throw new SipParseError('Bad CSeq method');
  return { seq, method };
}

/** 0..255 (RFC 3261 20.22). */
export function parseMaxForwards(value: string): number {
  const v = parseDecimal(trimLws(value), 3);
  if (v < 0 || v > 255) throw new SipParseError('Bad Max-Forwards');
  return v;
}

/** Body size in bytes; 1*DIGIT, capped well above any datagram or sane stream message. */
export function parseContentLength(value: string): number {
  const v = parseDecimal(trimLws(value), 9);
  if (v < 0) throw new SipParseError('Bad Content-Length');
  return v;
}
