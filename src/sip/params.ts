// `;name=value` parameter lists of header values (Via, name-addr, ...).
// SEMI and EQUAL allow whitespace around them (RFC 3261 25.1).

import { SipParseError } from '../core/errors.js';
import { isParamValueChar, isTokenChar, isWs, skipWs } from './chars.js';
import type { Params } from './types.js';

/**
 * Parse parameters from `p` to the end of `s` into `params`. Only whitespace
 * and `;param` may follow: anything else is an error. Keys are lowercased,
 * values keep quotes/brackets as written; the first of duplicate keys wins.
 */
export function parseHeaderParams(s: string, p: number, params: Params): void {
  const n = s.length;
  for (;;) {
    p = skipWs(s, p);
    if (p >= n) return;
    if (s.charCodeAt(p) !== 0x3b /* ; */) throw new SipParseError('Unexpected text after value');
    p = skipWs(s, p + 1);
    const nameStart = p;
    while (p < n && isTokenChar(s.charCodeAt(p))) p++;
    if (p === nameStart) throw new SipParseError('Empty parameter');
    const name = s.slice(nameStart, p).toLowerCase();
    p = skipWs(s, p);
    let value: string | null = null;
    if (p < n && s.charCodeAt(p) === 0x3d /* = */) {
      p = skipWs(s, p + 1);
      const valueStart = p;
      const c = p < n ? s.charCodeAt(p) : -1;
      if (c === 0x22 /* " */) {
        p = endOfQuoted(s, p);
      } else if (c === 0x5b /* [ */) {
        const close = s.indexOf(']', p);
        if (close < 0) throw new SipParseError('Unterminated IPv6 reference');
        p = close + 1;
      } else {
        while (p < n && isParamValueChar(s.charCodeAt(p))) p++;
      }
      if (p === valueStart) throw new SipParseError('Empty parameter value');
      value = s.slice(valueStart, p);
    }
    if (!params.has(name)) params.set(name, value);
  }
}

/** Index just past the closing quote of the quoted-string opening at `p`. */
export function endOfQuoted(s: string, p: number): number {
  const n = s.length;
  for (let i = p + 1; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      i++;
      if (i >= n) break;
      const e = s.charCodeAt(i);
      if (e === 0x0d || e === 0x0a) throw new SipParseError('Bad quoted string');
    } else if (c === 0x22) {
      return i + 1;
    } else if ((c < 0x20 && !isWs(c)) || c === 0x7f) {
      throw new SipParseError('Control character in quoted string');
    }
  }
  throw new SipParseError('Unterminated quoted string');
}

/** `;name=value;flag` in insertion order. */
export function formatParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}
