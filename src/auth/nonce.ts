// Digest nonces any node can check alone, and whose replay only one node can
// judge: its issuer. A nonce carries who issued it (node id and boot id),
// when, and for how long, under a MAC keyed from the cluster secret:
//
//   base64url( v=1 | issuer u16 | boot u32 | issued u32 s | lifetime u16 s | serial u32 | MAC 12 bytes )
//
// MAC = HMAC-SHA256(key, the 17 bytes before it), truncated to 96 bits; key =
// HKDF-SHA256(secret, "anysip digest nonce"). HMAC because it is a PRF that
// needs no state; 96 bits because a forger gets one guess per request for a
// lifetime of minutes; HKDF so this key is not the one the Via branches and
// flow tokens use. The nonce-counts (replay) live only on the issuer
// (NonceCounts): in `hash` ownership every request of a Call-ID, the retry
// after a challenge included, reaches the node that challenged it. A nonce of
// another node, or of this node's previous life (its boot id changed, its
// counts are gone), is answered with a fresh challenge (stale=true), never
// trusted: replay protection holds across the cluster with no shared state.

import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 1;
const BODY = 17;
const MAC = 12;
/** base64url of BODY + MAC bytes, unpadded. */
const TEXT_LENGTH = Math.ceil(((BODY + MAC) * 4) / 3);

export type NonceProblem = 'malformed' | 'bad_mac' | 'expired' | 'other_node';

export interface NonceInfo {
  issuer: number;
  /** Milliseconds since the epoch: when the nonce stops being accepted. */
  expiresAt: number;
}

export class NonceCodec {
  private readonly key: Buffer;
  private serial = randomBytes(4).readUInt32BE(0);

  constructor(
    secret: string | Buffer,
    readonly nodeId: number,
    /** Random per process start: a restarted node refuses the nonces of its previous life. */
    readonly bootId: number,
    private readonly now: () => number,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'anysip', 'anysip digest nonce', 32));
  }

  issue(lifetimeSeconds: number): string {
    const b = Buffer.alloc(BODY + MAC);
    b.writeUInt8(VERSION, 0);
    b.writeUInt16BE(this.nodeId, 1);
    b.writeUInt32BE(this.bootId >>> 0, 3);
    b.writeUInt32BE(Math.floor(this.now() / 1000), 7);
    b.writeUInt16BE(Math.min(lifetimeSeconds, 0xffff), 11);
    this.serial = (this.serial + 1) >>> 0;
    b.writeUInt32BE(this.serial, 13);
    this.mac(b.subarray(0, BODY)).copy(b, BODY);
    return b.toString('base64url');
  }

  /** Whether this node may accept `nonce` now: its own, of this boot, authentic, unexpired. */
  check(nonce: string): { info: NonceInfo } | { problem: NonceProblem; info?: NonceInfo } {
    if (nonce.length !== TEXT_LENGTH || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { problem: 'malformed' };
    const b = Buffer.from(nonce, 'base64url');
    if (b.length !== BODY + MAC || b.readUInt8(0) !== VERSION) return { problem: 'malformed' };
    if (!timingSafeEqual(this.mac(b.subarray(0, BODY)), b.subarray(BODY))) return { problem: 'bad_mac' };
    const info = { issuer: b.readUInt16BE(1), expiresAt: (b.readUInt32BE(7) + b.readUInt16BE(11)) * 1000 };
    if (info.issuer !== this.nodeId || b.readUInt32BE(3) !== this.bootId >>> 0) return { problem: 'other_node', info };
    if (this.now() >= info.expiresAt) return { problem: 'expired', info };
    return { info };
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC);
  }
}

/**
 * The nonce-counts this node has seen for its own nonces (RFC 7616 3.4: a server "MUST" check nc
 * to detect replays). Each nonce remembers which nc values it has taken, in a 64-value window
 * above the lowest one still possible, so requests sent in parallel with one nonce may arrive out
 * of order. Bounded: at `max` nonces the oldest goes, and its later uses are refused, never
 * accepted. Only a request whose response was right is counted, so only real users fill it.
 */
export class NonceCounts {
  private readonly seen = new Map<string, { base: number; bits: bigint; expiresAt: number }>();
  /** The latest expiry of a nonce forgotten before it expired: an unknown nonce that old may be one, and is refused. */
  private forgottenUpTo = 0;

  constructor(private readonly max: number) {}

  /** True the first time (nonce, nc) is used; false for a replay or an nc too far behind. */
  use(nonce: string, nc: number, expiresAt: number, now: number): boolean {
    let s = this.seen.get(nonce);
    if (!s) {
      if (expiresAt <= this.forgottenUpTo) return false;
      this.sweep(now);
      s = { base: 0, bits: 0n, expiresAt };
      this.seen.set(nonce, s);
    }
    if (nc <= s.base) return false;
    let offset = nc - s.base - 1;
    if (offset >= 64) {
      // Slide the window so nc is its newest value.
      const shift = offset - 63;
      s.bits = shift >= 64 ? 0n : s.bits >> BigInt(shift);
      s.base += shift;
      offset = 63;
    }
    const bit = 1n << BigInt(offset);
    if (s.bits & bit) return false;
    s.bits |= bit;
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  /**
   * Forget expired nonces from the oldest; at the bound, the oldest too. Nonces are first used
   * soon after they are issued, with one lifetime, so insertion order is close to expiry order.
   */
  private sweep(now: number): void {
    for (const [k, v] of this.seen) {
      if (v.expiresAt > now && this.seen.size < this.max) break;
      if (v.expiresAt > now) this.forgottenUpTo = Math.max(this.forgottenUpTo, v.expiresAt);
      this.seen.delete(k);
    }
  }
}
