// URI grammar: sip/sips (RFC 3261 19.1, 25.1), tel (RFC 3966), and any other
// absolute URI kept opaque. Escapes stay as written; parse only checks them.

import { isIPv6 } from 'node:net';
import { SipParseError } from '../core/errors.js';
import { isDigit, isHexChar, isHostChar, isUriChar, parseDecimal } from './chars.js';
import { formatParams } from './params.js';
import type { Params, SipUri } from './types.js';

/**
 * Parse a URI. For tel: the number is in `user`. For any other non-SIP
 * scheme the whole text after "scheme:" is kept in `user` (opaque) and host is ''.
 */
export function parseUri(text: string): SipUri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new SipParseError('Missing URI scheme');
  checkScheme(text, colon);
  checkUriChars(text, colon + 1);
  const scheme = schemeOf(text, colon);
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(text, scheme, colon + 1);
  if (scheme === 'tel') return parseTelUri(text, colon + 1);
  if (colon + 1 >= text.length) throw new SipParseError('Empty URI');
  return { scheme, user: text.slice(colon + 1), host: '', params: new Map(), headers: [] };
}

/** Texts and results of the last few parseUriShared() calls, oldest overwritten first. */
const SHARED_SLOTS = 4;
const sharedText: (string | undefined)[] = new Array<string | undefined>(SHARED_SLOTS);
const sharedUri: (SipUri | undefined)[] = new Array<SipUri | undefined>(SHARED_SLOTS);
let sharedNext = 0;

/**
 * parseUri() for the proxy's hot path, which reads the same Request-URI three or four times per
 * request (validation, loose routing, routing, socket choice): the result is shared with every
 * caller that parses the same text, so **it must not be modified**. Errors are not remembered.
 */
export function parseUriShared(text: string): SipUri {
  for (let i = 0; i < SHARED_SLOTS; i++) if (sharedText[i] === text) return sharedUri[i]!;
  const uri = parseUri(text);
  sharedText[sharedNext] = text;
  sharedUri[sharedNext] = uri;
  sharedNext = (sharedNext + 1) % SHARED_SLOTS;
  return uri;
}

function schemeOf(text: string, colon: number): string {
  // Fast path for the common lowercase spellings (no allocation for toLowerCase).
  if (colon === 3 && text.startsWith('sip')) return 'sip';
  if (colon === 4 && text.startsWith('sips')) return 'sips';
  return text.slice(0, colon).toLowerCase();
}

function checkScheme(text: string, colon: number): void {
  const c0 = text.charCodeAt(0) | 0x20;
  if (c0 < 0x61 || c0 > 0x7a) throw new SipParseError('Bad URI scheme');
  for (let i = 1; i < colon; i++) {
    const c = text.charCodeAt(i);
    const l = c | 0x20;
    if (!((l >= 0x61 && l <= 0x7a) || isDigit(c) || c === 0x2b || c === 0x2d || c === 0x2e)) {
      throw new SipParseError('Bad URI scheme');
    }
  }
}

/** No whitespace, controls, non-ASCII or excluded delimiters; every % starts a two-hex-digit escape. */
function checkUriChars(text: string, from: number): void {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isUriChar(c)) throw new SipParseError(c <= 0x20 ? 'Whitespace in URI' : 'Bad character in URI');
    if (c === 0x25 /* % */ && !(isHexChar(text.charCodeAt(i + 1)) && isHexChar(text.charCodeAt(i + 2)))) {
      throw new SipParseError('Bad escape in URI');
    }
  }
}

function parseSipUri(text: string, scheme: string, p: number): SipUri {
  const n = text.length;
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: [] };
  // The user part may itself contain ';', '?' and '/' (RFC 4475 intmeth, semiuri),
  // so userinfo is everything before the first '@'.
  const at = text.indexOf('@', p);
  if (at >= 0) {
    const pc = text.indexOf(':', p);
    if (pc >= 0 && pc < at) {
      uri.user = text.slice(p, pc);
      uri.password = text.slice(pc + 1, at);
    } else {
      uri.user = text.slice(p, at);
    }
    if (uri.user.length === 0) throw new SipParseError('Empty user in URI');
    p = at + 1;
  }
  let hostEnd: number;
  if (text.charCodeAt(p) === 0x5b /* [ */) {
    const close = text.indexOf(']', p);
    if (close < 0) throw new SipParseError('Unterminated IPv6 reference');
    hostEnd = close + 1;
  } else {
    hostEnd = p;
    while (hostEnd < n && isHostChar(text.charCodeAt(hostEnd))) hostEnd++;
  }
  uri.host = text.slice(p, hostEnd);
  checkHost(uri.host);
  p = hostEnd;
  if (p < n && text.charCodeAt(p) === 0x3a /* : */) {
    let e = p + 1;
    while (e < n && isDigit(text.charCodeAt(e))) e++;
    uri.port = parsePort(text.slice(p + 1, e));
    p = e;
  }
  p = parseUriParams(text, p, uri.params);
  if (p < n && text.charCodeAt(p) === 0x3f /* ? */) {
    for (const pair of text.slice(p + 1).split('&')) {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      if (name.length === 0) throw new SipParseError('Empty URI header');
      uri.headers.push([name, eq < 0 ? '' : pair.slice(eq + 1)]);
    }
    p = n;
  }
  if (p !== n) throw new SipParseError('Bad host or port in URI');
  return uri;
}

/** `;name[=value]` up to '?' or the end; returns where they stop. */
function parseUriParams(text: string, p: number, params: Params): number {
  const n = text.length;
  while (p < n && text.charCodeAt(p) === 0x3b /* ; */) {
    let e = p + 1;
    let eq = -1;
    for (; e < n; e++) {
      const c = text.charCodeAt(e);
      if (c === 0x3b || c === 0x3f) break;
      if (c === 0x3d && eq < 0) eq = e;
    }
    const name = text.slice(p + 1, eq < 0 ? e : eq).toLowerCase();
    if (name.length === 0) throw new SipParseError('Empty URI parameter');
    if (eq >= 0 && eq + 1 === e) throw new SipParseError('Empty URI parameter value');
    if (!params.has(name)) params.set(name, eq < 0 ? null : text.slice(eq + 1, e));
    p = e;
  }
  return p;
}

function parseTelUri(text: string, p: number): SipUri {
  const semi = text.indexOf(';', p);
  const number = text.slice(p, semi < 0 ? text.length : semi);
  if (number.length === 0) throw new SipParseError('Empty telephone number');
  for (let i = 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    const ok =
      isHexChar(c) || c === 0x2a /* * */ || c === 0x23 /* # */ || c === 0x2d || c === 0x2e ||
      c === 0x28 || c === 0x29 || (c === 0x2b /* + */ && i === 0);
    if (!ok) throw new SipParseError('Bad telephone number');
  }
  const uri: SipUri = { scheme: 'tel', user: number, host: '', params: new Map(), headers: [] };
  if (semi >= 0 && parseUriParams(text, semi, uri.params) !== text.length) {
    throw new SipParseError('Bad tel URI');
  }
  return uri;
}

/** Port as in RFC 3261 (1*DIGIT), limited to 0..65535. */
export function parsePort(s: string): number {
  const port = parseDecimal(s, 5);
  if (port < 0 || port > 65535) throw new SipParseError('Bad port');
  return port;
}

/**
 * Hostname, IPv4 address, or bracketed IPv6 reference (RFC 5118). The
 * RFC 3261 ABNF bug that allows ":::" before an embedded IPv4 address is
 * tolerated as RFC 5118 4.10 asks.
 */
export function checkHost(host: string): void {
  if (host.length === 0) throw new SipParseError('Missing host');
  if (host.charCodeAt(0) === 0x5b) {
    const inner = host.slice(1, -1);
    if (host.charCodeAt(host.length - 1) !== 0x5d || !(isIPv6(inner) || isIPv6(inner.replace(':::', '::')))) {
      throw new SipParseError('Bad IPv6 reference');
    }
    return;
  }
  // A top label starting with a digit can only be an IPv4 address (toplabel = ALPHA ...).
  const end = host.charCodeAt(host.length - 1) === 0x2e ? host.length - 1 : host.length;
  const lastDot = host.lastIndexOf('.', end - 1);
  if (isDigit(host.charCodeAt(lastDot + 1))) {
    if (!isIPv4(host)) throw new SipParseError('Bad IPv4 address');
    return;
  }
  for (let i = 0; i < end; i++) {
    if (!isHostChar(host.charCodeAt(i))) throw new SipParseError('Bad host');
  }
}

/** Four dot-separated decimal octets 0..255, each 1-3 digits (leading zeros allowed). No allocation. */
function isIPv4(s: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e /* . */) {
      if (digits === 0 || value > 255) return false;
      parts++;
      digits = 0;
      value = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (++digits > 3) return false;
      value = value * 10 + (c - 0x30);
    } else {
      return false;
    }
  }
  return parts === 4;
}

export function formatUri(uri: SipUri): string {
  if (uri.scheme === 'sip' || uri.scheme === 'sips') {
    let s = uri.scheme + ':';
    if (uri.user !== undefined) {
      s += uri.user;
      if (uri.password !== undefined) s += ':' + uri.password;
      s += '@';
    }
    s += uri.host;
    if (uri.port !== undefined) s += ':' + uri.port;
    s += formatParams(uri.params);
    if (uri.headers.length) s += '?' + uri.headers.map(([k, v]) => `${k}=${v}`).join('&');
    return s;
  }
  if (uri.scheme === 'tel') return 'tel:' + (uri.user ?? '') + formatParams(uri.params);
  return uri.scheme + ':' + (uri.user ?? '');
}

/** Decode every %XX escape (result is a latin1 byte string). */
export function unescapeUser(s: string): string {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && isHexChar(s.charCodeAt(i + 1)) && isHexChar(s.charCodeAt(i + 2))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/**
 * Canonical form for comparison: escapes of unreserved characters are decoded
 * (RFC 3261 19.1.4: "%61lice" equals "alice"); escapes of reserved characters
 * stay escaped, with uppercase hex, so "%3A" never equals ":".
 */
function canonEscapes(s: string): string {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 0x25 && i + 2 < s.length) {
      const code = parseInt(s.slice(i + 1, i + 3), 16);
      const ch = String.fromCharCode(code);
      out += isUnreserved(code) ? ch : '%' + s.slice(i + 1, i + 3).toUpperCase();
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

function isUnreserved(c: number): boolean {
  const l = c | 0x20;
  return (l >= 0x61 && l <= 0x7a) || isDigit(c) || "-_.!~*'()".includes(String.fromCharCode(c));
}

// Parameters that make URIs differ when only one side has them (RFC 3261 19.1.4).
const MUST_MATCH = new Set(['user', 'ttl', 'method', 'maddr']);

/** URI equality per RFC 3261 19.1.4 (sip/sips), RFC 3966 (tel), exact for other schemes. */
export function uriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (a.scheme === 'tel') {
    return (
      telDigits(a.user ?? '') === telDigits(b.user ?? '') &&
      a.params.size === b.params.size &&
      paramsAgree(a.params, b.params, true)
    );
  }
  if (a.scheme !== 'sip' && a.scheme !== 'sips') return a.user === b.user;
  if ((a.user === undefined) !== (b.user === undefined)) return false;
  if (a.user !== undefined && canonEscapes(a.user) !== canonEscapes(b.user!)) return false;
  if (canonEscapes(a.password ?? '') !== canonEscapes(b.password ?? '')) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase()) return false;
  if (a.port !== b.port) return false;
  if (!paramsAgree(a.params, b.params, false)) return false;
  if (a.headers.length !== b.headers.length) return false;
  const ha = a.headers.map(([k, v]) => k.toLowerCase() + '=' + canonEscapes(v)).sort();
  const hb = b.headers.map(([k, v]) => k.toLowerCase() + '=' + canonEscapes(v)).sort();
  return ha.every((h, i) => h === hb[i]);
}

function paramsAgree(a: Params, b: Params, all: boolean): boolean {
  for (const [k, va] of a) {
    if (!b.has(k)) {
      if (all || MUST_MATCH.has(k)) return false;
      continue;
    }
    const vb = b.get(k)!;
    if (va === null || vb === null) {
      if (va !== vb) return false;
    } else if (canonEscapes(va).toLowerCase() !== canonEscapes(vb).toLowerCase()) {
      return false;
    }
  }
  for (const k of b.keys()) if (!a.has(k) && (all || MUST_MATCH.has(k))) return false;
  return true;
}

/** Telephone numbers compare without visual separators, hex digits case-insensitively. */
function telDigits(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x2d && c !== 0x2e && c !== 0x28 && c !== 0x29) out += s[i];
  }
  return out.toLowerCase();
}

/**
 * A string that names a sip/sips URI for use as a key: URIs that uriEquals() calls equal because
 * they agree on every component share it (scheme, user, password, host, port, the parameters that
 * must match, transport, and the headers). Other parameters are left out.
 */
export function uriKey(u: SipUri): string {
  const params: string[] = [];
  for (const k of [...MUST_MATCH, 'transport']) {
    const v = u.params.get(k);
    if (v !== undefined) params.push(v === null ? k : `${k}=${canonEscapes(v).toLowerCase()}`);
  }
  const headers = u.headers.map(([k, v]) => k.toLowerCase() + '=' + canonEscapes(v)).sort();
  const user = u.user === undefined ? '' : canonEscapes(u.user) + (u.password !== undefined ? ':' + canonEscapes(u.password) : '') + '@';
  return `${u.scheme}:${user}${u.host.toLowerCase()}${u.port !== undefined ? ':' + u.port : ''}${params.length ? ';' + params.join(';') : ''}${headers.length ? '?' + headers.join('&') : ''}`;
}
