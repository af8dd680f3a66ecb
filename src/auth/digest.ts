// SIP Digest authentication (RFC 3261 22.4, RFC 7616, RFC 8760): parsing of
// Authorization / Proxy-Authorization values, HA1 and response computation,
// and challenge values. No I/O, no state: nonces and credential stores live
// elsewhere in src/auth/.

import { createHash, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export const ALGORITHMS: readonly DigestAlgorithm[] = Object.freeze(['MD5', 'SHA-256'] as const);

/** The Digest credentials of an Authorization / Proxy-Authorization header value. */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  /** As sent; compared case-insensitively. */
  response: string;
  /** Absent in the header -> 'MD5' (RFC 7616 3.4). */
  algorithm: DigestAlgorithm;
  /** As sent (it is hashed as sent); only 'auth' in any case gets through the parser. */
  qop?: string;
  nc?: string;
  cnonce?: string;
  opaque?: string;
}

/**
 * Why a header value is not usable credentials.
 * - not_digest: another scheme (Basic, Bearer, ...): not ours to judge.
 * - malformed: bad syntax, a duplicated parameter, a bad nc or response, or too long.
 * - missing_field: a required parameter is absent (nc and cnonce are required once qop is present).
 * - unsupported_algorithm: -sess variants, SHA-512-256, anything but MD5 / SHA-256.
 * - unsupported_qop: a qop other than auth (auth-int): well-formed, but we cannot verify
 *   a body hash, so the caller re-challenges with qop="auth" instead of answering 400.
 */
export type CredentialsProblem =
  | 'not_digest'
  | 'malformed'
  | 'missing_field'
  | 'unsupported_algorithm'
  | 'unsupported_qop';

/** Longer values are refused before any scanning, so hostile input costs little. */
export const MAX_VALUE_LENGTH = 4096;

const REQUIRED = ['username', 'realm', 'nonce', 'uri', 'response'] as const;
const HEX_LENGTH: Record<DigestAlgorithm, number> = { MD5: 32, 'SHA-256': 64 };
const NODE_HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };
const NC_PATTERN = /^[0-9a-fA-F]{8}$/;
const HEX_PATTERN = /^[0-9a-fA-F]*$/;

/** Parse one header value. See CredentialsProblem for what is refused and why. */
export function parseCredentials(
  value: string,
): { credentials: DigestCredentials } | { problem: CredentialsProblem } {
  const parsed = parseDigestParams(value);
  if ('problem' in parsed) return parsed;
  const p = parsed.params;

  for (const name of REQUIRED) if (!p.has(name)) return { problem: 'missing_field' };
  const algorithm = algorithmOf(p.get('algorithm'));
  if (algorithm === undefined) return { problem: 'unsupported_algorithm' };

  const qop = p.get('qop');
  if (qop !== undefined) {
    if (qop.toLowerCase() !== 'auth') return { problem: 'unsupported_qop' };
    if (!p.has('nc') || !p.has('cnonce')) return { problem: 'missing_field' };
  }
  const nc = p.get('nc');
  if (nc !== undefined && !NC_PATTERN.test(nc)) return { problem: 'malformed' };
  const response = p.get('response')!;
  if (response.length !== HEX_LENGTH[algorithm] || !HEX_PATTERN.test(response)) {
    return { problem: 'malformed' };
  }

  const credentials: DigestCredentials = {
    username: p.get('username')!,
    realm: p.get('realm')!,
    nonce: p.get('nonce')!,
    uri: p.get('uri')!,
    response,
    algorithm,
  };
  // Only the parameters we know are copied; unknown ones are dropped.
  if (qop !== undefined) credentials.qop = qop;
  if (nc !== undefined) credentials.nc = nc;
  const cnonce = p.get('cnonce');
  if (cnonce !== undefined) credentials.cnonce = cnonce;
  const opaque = p.get('opaque');
  if (opaque !== undefined) credentials.opaque = opaque;
  return { credentials };
}

/** Absent means MD5 (RFC 7616 3.4); undefined means not one we support. */
function algorithmOf(raw: string | undefined): DigestAlgorithm | undefined {
  if (raw === undefined) return 'MD5';
  const upper = raw.toUpperCase();
  return ALGORITHMS.find((a) => a === upper);
}

/**
 * Scan `Digest name=value, name="quoted", ...` into lowercased names and
 * unescaped values. Shared by the credentials parser and by anyone reading a
 * challenge back. Header values reach us already unfolded, so CR and LF are
 * refused everywhere.
 */
export function parseDigestParams(
  value: string,
): { params: Map<string, string> } | { problem: 'not_digest' | 'malformed' } {
  if (value.length > MAX_VALUE_LENGTH) return { problem: 'malformed' };
  const n = value.length;
  let i = skipWs(value, 0);
  const schemeStart = i;
  while (i < n && isTokenChar(value.charCodeAt(i))) i++;
  if (i === schemeStart) return { problem: 'malformed' };
  if (value.slice(schemeStart, i).toLowerCase() !== 'digest') return { problem: 'not_digest' };

  const params = new Map<string, string>();
  const afterScheme = i;
  i = skipWs(value, i);
  if (i >= n) return { params };
  if (i === afterScheme) return { problem: 'malformed' }; // "Digestfoo" or "Digest,"

  for (;;) {
    const nameStart = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    if (i === nameStart) return { problem: 'malformed' };
    const name = value.slice(nameStart, i).toLowerCase();
    i = skipWs(value, i);
    if (value.charCodeAt(i) !== 0x3d /* = */) return { problem: 'malformed' };
    i = skipWs(value, i + 1);

    let paramValue: string;
    if (value.charCodeAt(i) === 0x22 /* " */) {
      const quoted = readQuoted(value, i);
      if (quoted === undefined) return { problem: 'malformed' };
      paramValue = quoted.text;
      i = quoted.end;
    } else {
      const valueStart = i;
      while (i < n && isTokenChar(value.charCodeAt(i))) i++;
      if (i === valueStart) return { problem: 'malformed' };
      paramValue = value.slice(valueStart, i);
    }
    // A second copy could make the checker and the hash read different values.
    if (params.has(name)) return { problem: 'malformed' };
    params.set(name, paramValue);

    i = skipWs(value, i);
    if (i >= n) return { params };
    if (value.charCodeAt(i) !== 0x2c /* , */) return { problem: 'malformed' };
    i = skipWs(value, i + 1);
  }
}

/** The quoted-string opening at `start`, unescaped (RFC 3261 25.1 qdtext / quoted-pair). */
function readQuoted(s: string, start: number): { text: string; end: number } | undefined {
  let text = '';
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return { text, end: i + 1 };
    if (c === 0x5c /* \ */) {
      const e = s.charCodeAt(++i);
      // quoted-pair: any ASCII but CR and LF.
      if (Number.isNaN(e) || e === 0x0d || e === 0x0a || e > 0x7f) return undefined;
      text += s[i];
    } else if (isQdtext(c)) {
      text += s[i];
    } else {
      return undefined;
    }
  }
  return undefined;
}

function isQdtext(c: number): boolean {
  return c === 0x20 || c === 0x09 || (c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x5c) || c >= 0x80;
}

// RFC 3261 25.1 token: alphanum and - . ! % * _ + ` ' ~
function isTokenChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a ||
    c === 0x5f || c === 0x2b || c === 0x60 || c === 0x27 || c === 0x7e
  );
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  return i;
}

function hash(algorithm: DigestAlgorithm, text: string): string {
  return createHash(NODE_HASH[algorithm]).update(text, 'utf8').digest('hex');
}

/** H(username:realm:password) in lowercase hex. */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hash(algorithm, `${username}:${realm}:${password}`);
}

/**
 * The response the UA must have sent: with qop H(HA1:nonce:nc:cnonce:qop:H(method:uri)),
 * without qop H(HA1:nonce:H(method:uri)) (RFC 2069 compatibility). Lowercase hex.
 */
export function expectedResponse(algorithm: DigestAlgorithm, ha1: string, method: string, c: DigestCredentials): string {
  // The UA hashed HA1 as lowercase hex; a store that keeps it uppercase must still match.
  const h1 = ha1.toLowerCase();
  const h2 = hash(algorithm, `${method}:${c.uri}`);
  if (c.qop === undefined) return hash(algorithm, `${h1}:${c.nonce}:${h2}`);
  return hash(algorithm, `${h1}:${c.nonce}:${c.nc ?? ''}:${c.cnonce ?? ''}:${c.qop}:${h2}`);
}

/** Constant-time comparison of c.response (case-insensitive hex) with expectedResponse. */
export function responseMatches(ha1: string, method: string, c: DigestCredentials): boolean {
  const expected = Buffer.from(expectedResponse(c.algorithm, ha1, method, c), 'latin1');
  const given = Buffer.from(c.response.toLowerCase(), 'latin1');
  // The length is not secret (it follows from the algorithm); only the content is.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * A WWW-Authenticate / Proxy-Authenticate value:
 * `Digest realm="..", nonce="..", opaque=".." (if given), algorithm=X, qop="auth"[, stale=true]`.
 * Throws RangeError for a realm, nonce or opaque with control characters: no
 * quoted-string can carry CR or LF, and letting them through would inject headers.
 */
export function challengeValue(
  algorithm: DigestAlgorithm,
  realm: string,
  nonce: string,
  opts: { stale?: boolean; opaque?: string } = {},
): string {
  let out = `Digest realm=${quote(realm)}, nonce=${quote(nonce)}`;
  if (opts.opaque !== undefined) out += `, opaque=${quote(opts.opaque)}`;
  out += `, algorithm=${algorithm}, qop="auth"`;
  if (opts.stale) out += ', stale=true';
  return out;
}

/** `s` as a quoted-string: backslash and double quote escaped. */
export function quote(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(s)) throw new RangeError('Control character in a quoted-string value');
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}
