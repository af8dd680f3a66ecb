// Via branch codec: the owner tag of DESIGN.md. Format (see README.md):
//
//   z9hG4bK.<kind><20 base64url chars>[.<8 base64url chars loop hash>]
//
// The 20 chars are 15 bytes: owner node ID (u16 BE) | unique (7 bytes) | MAC (6 bytes).
// MAC = SipHash-2-4(macKey, kind | nodeId | unique | ["." loop]) truncated to 6 bytes.
// kind 'a': stateful, unique = 3 random bytes per process + 32-bit counter.
// kind 's': stateless (RFC 3261 16.11), unique = SipHash-2-4(statelessKey, key) truncated, node ID 0 by
//           default so every node of the cluster derives the same branch for the same input.
// macKey | statelessKey = SHA-256(secret) (16 bytes each), derived once per codec.

import { createHash, randomBytes } from 'node:crypto';
import { sipHash, sipKey, type SipKey } from './siphash.js';

export const MAGIC_COOKIE = 'z9hG4bK';
const PREFIX = 'z9hG4bK.';
const MAC_LEN = 6;
const BODY_LEN = 15; // 2 + 7 + 6
const RE = /^z9hG4bK\.([as])([A-Za-z0-9_-]{20})(?:\.([A-Za-z0-9_-]{8}))?$/;
const LOOP_RE = /^[A-Za-z0-9_-]{8}$/;

export interface DecodedBranch {
  /** Owner node ID (1..65535); 0 for stateless branches (no owner: any node may relay the response). */
  nodeId: number;
  /** MAC verified with the cluster secret. false: forged, corrupted, or another cluster's secret. */
  valid: boolean;
  stateless: boolean;
  /** Loop-detection segment, when the branch carries one. */
  loop?: string;
}

export interface EncodeOptions {
  /** 8 base64url chars from computeLoopHash() (RFC 3261 16.6 step 8). */
  loop?: string;
}

// Per-process uniqueness: a random prefix and a counter (cheaper than random bytes per branch).
const bootPrefix = randomBytes(3);
let counter = randomBytes(4).readUInt32BE(0);

/** Scratch for one SipHash output (the codec is synchronous). */
const H = Buffer.alloc(8);

export class BranchCodec {
  private readonly macKey: SipKey;
  private readonly statelessKey: SipKey;

  constructor(
    secret: string | Buffer,
    readonly nodeId: number,
  ) {
    if (!Number.isInteger(nodeId) || nodeId < 1 || nodeId > 65535) {
      throw new RangeError(`nodeId must be 1..65535, got ${nodeId}`);
    }
    const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (key.length === 0) throw new RangeError('branch secret must not be empty');
    const derived = createHash('sha256').update(key).digest();
    this.macKey = sipKey(derived, 0);
    this.statelessKey = sipKey(derived, 16);
  }

  /** A fresh, globally unique branch owned by this node. */
  encode(opts?: EncodeOptions): string {
    const body = Buffer.allocUnsafe(BODY_LEN);
    body.writeUInt16BE(this.nodeId, 0);
    bootPrefix.copy(body, 2);
    counter = (counter + 1) >>> 0;
    body.writeUInt32BE(counter, 5);
    return this.finish('a', body, opts?.loop);
  }

  /**
   * Deterministic branch for stateless forwarding (RFC 3261 16.11): the same `key` (normally the incoming
   * top Via branch) always gives the same branch, on every node when nodeId is 0 (the default).
   */
  encodeStateless(key: string, nodeId = 0, opts?: EncodeOptions): string {
    const body = Buffer.allocUnsafe(BODY_LEN);
    body.writeUInt16BE(nodeId, 0);
    sipHash(this.statelessKey, [key], H);
    H.copy(body, 2, 0, 7);
    return this.finish('s', body, opts?.loop);
  }

  /** null: not an anysip branch (another vendor's, RFC 2543, malformed). */
  decode(branch: string | undefined): DecodedBranch | null {
    if (branch === undefined || branch.length < 29 || !branch.startsWith(PREFIX)) return null;
    const m = RE.exec(branch);
    if (m === null) return null;
    const kind = m[1]!;
    const body = Buffer.from(m[2]!, 'base64url');
    const loop = m[3];
    const mac = this.mac(kind, body, loop);
    let diff = 0;
    for (let i = 0; i < MAC_LEN; i++) diff |= mac[i]! ^ body[9 + i]!;
    const nodeId = body.readUInt16BE(0);
    const stateless = kind === 's';
    const out: DecodedBranch = { nodeId, valid: diff === 0 && (stateless || nodeId !== 0), stateless };
    if (loop !== undefined) out.loop = loop;
    return out;
  }

  /** True when the branch is a valid branch owned by this node. */
  owns(branch: string | undefined): boolean {
    const d = this.decode(branch);
    return d !== null && d.valid && !d.stateless && d.nodeId === this.nodeId;
  }

  private finish(kind: string, body: Buffer, loop: string | undefined): string {
    if (loop !== undefined && !LOOP_RE.test(loop)) throw new RangeError('loop segment must be 8 base64url chars');
    this.mac(kind, body, loop).copy(body, 9, 0, MAC_LEN);
    const s = PREFIX + kind + body.toString('base64url');
    return loop === undefined ? s : s + '.' + loop;
  }

  /** The MAC over kind | nodeId | unique | ["." loop], in a shared scratch buffer (use at once). */
  private mac(kind: string, body: Buffer, loop: string | undefined): Buffer {
    const head = body.subarray(0, 9);
    sipHash(this.macKey, loop === undefined ? [kind, head] : [kind, head, '.', loop], H);
    return H;
  }
}

/** Free-function forms of the codec for callers that hold the secret rather than a codec. */
export function encodeBranch(secret: string | Buffer, nodeId: number, opts?: EncodeOptions): string {
  return new BranchCodec(secret, nodeId).encode(opts);
}

export function encodeStatelessBranch(secret: string | Buffer, key: string, nodeId = 0, opts?: EncodeOptions): string {
  return new BranchCodec(secret, 1).encodeStateless(key, nodeId, opts);
}

export function decodeBranch(secret: string | Buffer, branch: string | undefined): DecodedBranch | null {
  return new BranchCodec(secret, 1).decode(branch);
}

/** RFC 3261 branch (has the magic cookie), as opposed to RFC 2543 transaction matching. */
export function hasMagicCookie(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(MAGIC_COOKIE);
}
