// Byte-class lookup tables for the scanners in this folder. One table lookup
// per character beats regexes on the per-message path.

const TOKEN = 1; // RFC 3261 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
const HOST = 2; // hostname / IPv4 characters (plus "_", seen in the wild)
const URI_OK = 4; // may appear unescaped somewhere in a URI
const HEX = 8;
const DIGIT = 16;
const PARAM_VALUE = 32; // unquoted header parameter value (token / host / IPv6 received)

const table = new Uint8Array(256);

function mark(chars: string, flag: number): void {
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)]! |= flag;
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
mark(ALNUM, TOKEN | HOST | URI_OK | PARAM_VALUE);
mark("-.!%*_+`'~", TOKEN | PARAM_VALUE);
mark('-._', HOST);
mark('0123456789abcdefABCDEF', HEX);
mark('0123456789', DIGIT);
mark(':[]/', PARAM_VALUE);
// URIs: everything printable except the delimiters that can never be in one.
for (let c = 0x21; c < 0x7f; c++) table[c]! |= URI_OK;
// RFC 2396 excludes these; "#" stays allowed because dial strings use it unescaped.
for (const c of '<>"\\{}|^`') table[c.charCodeAt(0)]! &= ~URI_OK;

export function isTokenChar(c: number): boolean {
  return c < 256 && (table[c]! & TOKEN) !== 0;
}
export function isHostChar(c: number): boolean {
  return c < 256 && (table[c]! & HOST) !== 0;
}
export function isUriChar(c: number): boolean {
  return c < 256 && (table[c]! & URI_OK) !== 0;
}
export function isHexChar(c: number): boolean {
  return c < 256 && (table[c]! & HEX) !== 0;
}
export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
export function isParamValueChar(c: number): boolean {
  return c < 256 && (table[c]! & PARAM_VALUE) !== 0;
}
export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** True when the whole string is a non-empty token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

export function skipWs(s: string, p: number): number {
  while (p < s.length && isWs(s.charCodeAt(p))) p++;
  return p;
}

/** Trim SP/HTAB/CR/LF from both ends (String.prototype.trim also eats latin1 0xA0). */
export function trimLws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isLws(s.charCodeAt(a))) a++;
  while (b > a && isLws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Parse an unsigned decimal of at most maxDigits significant digits; -1 when empty, not all digits, or too long. */
export function parseDecimal(s: string, maxDigits: number): number {
  const n = s.length;
  if (n === 0) return -1;
  // Leading zeros are legal ("0068") and do not count against maxDigits.
  let i = 0;
  while (i < n - 1 && s.charCodeAt(i) === 0x30) i++;
  if (n - i > maxDigits) return -1;
  let v = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}
