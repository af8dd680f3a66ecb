// Canonical header keys: lowercased long names, compact forms expanded (RFC 3261 7.3.3 and later RFCs).

const COMPACT: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

// Wire spelling -> key, for the few spellings a node sees: every message then shares one key string per
// header instead of lower-casing a fresh copy. Bounded, so odd spellings from a peer cannot grow it.
const KEY_CACHE = new Map<string, string>();
const KEY_CACHE_MAX = 512;

/** Header name as written on the wire -> canonical key. */
export function headerKey(name: string): string {
  const cached = KEY_CACHE.get(name);
  if (cached !== undefined) return cached;
  const lower = name.toLowerCase();
  const key = lower.length === 1 ? (COMPACT[lower] ?? lower) : lower;
  if (KEY_CACHE.size < KEY_CACHE_MAX) KEY_CACHE.set(name, key);
  return key;
}

/**
 * Headers whose grammar is a comma-separated list (RFC 3261 7.3.1), so that
 * several values may share one line. Authorization-type headers are not here:
 * their commas separate parameters, not values.
 */
const LIST_HEADERS = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route',
  'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'content-encoding',
  'allow-events', 'in-reply-to', 'warning', 'alert-info', 'call-info',
  'error-info', 'p-asserted-identity', 'p-preferred-identity', 'reason',
  'security-client', 'security-server', 'security-verify', 'privacy',
]);

export function isListHeader(key: string): boolean {
  return LIST_HEADERS.has(key);
}

/**
 * Split a list header's value at top-level commas: commas inside a quoted
 * string or inside <...> do not separate values. Empty elements are dropped.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inQuote = false;
    } else if (c === 0x22) {
      inQuote = true;
    } else if (c === 0x3c /* < */) {
      inAngle = true;
    } else if (c === 0x3e /* > */) {
      inAngle = false;
    } else if (c === 0x2c /* , */ && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}
