// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit PRF for short
// inputs. The branch MAC and the loop and stateless-branch hashes use it
// instead of HMAC-SHA256 / SHA-256 through node:crypto, which cost an
// OpenSSL context, several objects and a native call per message.
//
// Pure 32-bit integer arithmetic on (hi, lo) halves; no allocation per call.
// Inputs are byte strings (one char per byte, as SipMessage strings are) or
// byte arrays; the 8 output bytes are written little-endian into `out`.

/** A 128-bit SipHash key as four little-endian 32-bit words (k0 lo, k0 hi, k1 lo, k1 hi). */
export interface SipKey {
  k0lo: number;
  k0hi: number;
  k1lo: number;
  k1hi: number;
}

/** Key from 16 bytes (little-endian k0 | k1, as in the reference implementation). */
export function sipKey(bytes: Uint8Array, offset = 0): SipKey {
  const w = (i: number) =>
    (bytes[offset + i]! | (bytes[offset + i + 1]! << 8) | (bytes[offset + i + 2]! << 16) | (bytes[offset + i + 3]! << 24)) >>> 0;
  return { k0lo: w(0), k0hi: w(4), k1lo: w(8), k1hi: w(12) };
}

// Working state: v0..v3 as (hi, lo) pairs. The hash is synchronous, so one
// module-level state suffices; a typed array keeps every access a plain load.
const V = new Uint32Array(8);
const V0H = 0, V0L = 1, V1H = 2, V1L = 3, V2H = 4, V2L = 5, V3H = 6, V3L = 7;

function sipRound(): void {
  let v0h = V[V0H]!, v0l = V[V0L]!, v1h = V[V1H]!, v1l = V[V1L]!;
  let v2h = V[V2H]!, v2l = V[V2L]!, v3h = V[V3H]!, v3l = V[V3L]!;
  let lo: number, hi: number;
  // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
  lo = (v0l + v1l) >>> 0;
  v0h = (v0h + v1h + (lo < v0l ? 1 : 0)) >>> 0;
  v0l = lo;
  hi = (v1h << 13) | (v1l >>> 19);
  lo = (v1l << 13) | (v1h >>> 19);
  v1h = (hi ^ v0h) >>> 0;
  v1l = (lo ^ v0l) >>> 0;
  hi = v0h;
  v0h = v0l;
  v0l = hi;
  // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
  lo = (v2l + v3l) >>> 0;
  v2h = (v2h + v3h + (lo < v2l ? 1 : 0)) >>> 0;
  v2l = lo;
  hi = (v3h << 16) | (v3l >>> 16);
  lo = (v3l << 16) | (v3h >>> 16);
  v3h = (hi ^ v2h) >>> 0;
  v3l = (lo ^ v2l) >>> 0;
  // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
  lo = (v0l + v3l) >>> 0;
  v0h = (v0h + v3h + (lo < v0l ? 1 : 0)) >>> 0;
  v0l = lo;
  hi = (v3h << 21) | (v3l >>> 11);
  lo = (v3l << 21) | (v3h >>> 11);
  v3h = (hi ^ v0h) >>> 0;
  v3l = (lo ^ v0l) >>> 0;
  // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
  lo = (v2l + v1l) >>> 0;
  v2h = (v2h + v1h + (lo < v2l ? 1 : 0)) >>> 0;
  v2l = lo;
  hi = (v1h << 17) | (v1l >>> 15);
  lo = (v1l << 17) | (v1h >>> 15);
  v1h = (hi ^ v2h) >>> 0;
  v1l = (lo ^ v2l) >>> 0;
  V[V0H] = v0h; V[V0L] = v0l; V[V1H] = v1h; V[V1L] = v1l;
  V[V2H] = v2l; V[V2L] = v2h; V[V3H] = v3h; V[V3L] = v3l;
}

function compress(mlo: number, mhi: number): void {
  V[V3L] ^= mlo;
  V[V3H] ^= mhi;
  sipRound();
  sipRound();
  V[V0L] ^= mlo;
  V[V0H] ^= mhi;
}

function init(k: SipKey): void {
  V[V0L] = k.k0lo ^ 0x70736575;
  V[V0H] = k.k0hi ^ 0x736f6d65;
  V[V1L] = k.k1lo ^ 0x6e646f6d;
  V[V1H] = k.k1hi ^ 0x646f7261;
  V[V2L] = k.k0lo ^ 0x6e657261;
  V[V2H] = k.k0hi ^ 0x6c796765;
  V[V3L] = k.k1lo ^ 0x79746573;
  V[V3H] = k.k1hi ^ 0x74656462;
}

function finish(out: Uint8Array, at: number): void {
  V[V2L] ^= 0xff;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  const lo = (V[V0L]! ^ V[V1L]! ^ V[V2L]! ^ V[V3L]!) >>> 0;
  const hi = (V[V0H]! ^ V[V1H]! ^ V[V2H]! ^ V[V3H]!) >>> 0;
  out[at] = lo & 0xff;
  out[at + 1] = (lo >>> 8) & 0xff;
  out[at + 2] = (lo >>> 16) & 0xff;
  out[at + 3] = lo >>> 24;
  out[at + 4] = hi & 0xff;
  out[at + 5] = (hi >>> 8) & 0xff;
  out[at + 6] = (hi >>> 16) & 0xff;
  out[at + 7] = hi >>> 24;
}

/** Byte source: a byte string (chars 0..255) or a byte array. */
type Bytes = string | Uint8Array;

// Pending little-endian word being filled across parts.
let wlo = 0;
let whi = 0;
let fill = 0;

function pushByte(b: number): void {
  if (fill < 4) wlo = (wlo | (b << (8 * fill))) >>> 0;
  else whi = (whi | (b << (8 * (fill - 4)))) >>> 0;
  if (++fill === 8) {
    compress(wlo, whi);
    wlo = whi = fill = 0;
  }
}

function feedString(s: string): void {
  const n = s.length;
  let i = 0;
  if (fill === 0) {
    for (; i + 8 <= n; i += 8) {
      compress(
        (s.charCodeAt(i) & 0xff) | ((s.charCodeAt(i + 1) & 0xff) << 8) | ((s.charCodeAt(i + 2) & 0xff) << 16) | ((s.charCodeAt(i + 3) & 0xff) << 24),
        (s.charCodeAt(i + 4) & 0xff) | ((s.charCodeAt(i + 5) & 0xff) << 8) | ((s.charCodeAt(i + 6) & 0xff) << 16) | ((s.charCodeAt(i + 7) & 0xff) << 24),
      );
    }
  }
  for (; i < n; i++) pushByte(s.charCodeAt(i) & 0xff);
}

function feedBytes(b: Uint8Array): void {
  const n = b.length;
  let i = 0;
  if (fill === 0) {
    for (; i + 8 <= n; i += 8) {
      compress(
        b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24),
        b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24),
      );
    }
  }
  for (; i < n; i++) pushByte(b[i]!);
}

/**
 * SipHash-2-4 of the concatenation of `parts` (no separator is added) into out[at..at+8].
 * Several parts save the caller a string concatenation.
 */
export function sipHash(k: SipKey, parts: readonly Bytes[], out: Uint8Array, at = 0): void {
  init(k);
  wlo = whi = fill = 0;
  let total = 0;
  for (let p = 0; p < parts.length; p++) {
    const src = parts[p]!;
    total += src.length;
    if (typeof src === 'string') feedString(src);
    else feedBytes(src);
  }
  // Last block: remaining bytes, length (mod 256) in the top byte.
  compress(wlo, (whi | ((total & 0xff) << 24)) >>> 0);
  finish(out, at);
}
