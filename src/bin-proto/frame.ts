// Bus frames: length prefix, protobuf Envelope, HMAC-SHA256 trailer.
//
//   +----------------+----------------------------+----------------------------+
//   | length u32 BE  | Envelope (protobuf bytes)  | HMAC-SHA256 (32 bytes)     |
//   +----------------+----------------------------+----------------------------+
//   length = len(Envelope) + 32; MAC = HMAC-SHA256(key, length prefix | Envelope)
//   key    = HMAC-SHA256(cluster secret, "anysip bus v1")
//
// Nothing here throws on network input: verifyFrame() answers a drop reason.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Capability } from './types.js';
import { pb, u64 } from './proto.js';

export const WIRE_VERSION = 1;
export const LENGTH_SIZE = 4;
export const MAC_SIZE = 32;
/** Default largest frame (length prefix value), bytes. */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;
/** Node ids are u16 (src/config: node.id). */
export const MAX_NODE_ID = 65535;

/** Why a frame was dropped. Fixed identifiers: they are metric label values. */
export const DROP_REASONS = [
  'truncated', // a frame cut short (connection closed mid-frame, or shorter than its MAC)
  'oversized', // length prefix above max_frame_size: the connection is closed
  'bad_mac', // HMAC does not verify: wrong key, corrupted, random bytes
  'malformed', // MAC fine but the protobuf or a field is invalid
  'bad_version', // Envelope.version is not one this code speaks
  'unknown_capability',
  'bad_hops', // hops > 1, or a relayed frame that was not allowed to be
  'bad_src', // src does not match the link, or claims to be us
  'bad_dst', // not for us, and not relayable
  'replay', // sequence number already seen or behind the window, or an epoch older than the one accepted
  'unestablished', // a non-hello frame before the link's hello
  'cluster_mismatch', // hello from another cluster (same secret, other name)
  'id_conflict', // hello claiming a node id a live node holds
  'no_handler', // no handler for the capability
  'handler_error', // the capability's handler threw
  'no_route', // send: no link and no relay to the destination
  'relay_no_route', // relay: we do not reach the destination either
  'queue_full', // send: the link's send queue is at its limit
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

const CAPS: readonly Capability[] = ['membership', 'anycast', 'dialog', 'location', 'abuse'];
/** Capability <-> its number on the wire (anysip.proto enum Capability). */
export const CAPABILITY_CODE: Record<Capability, number> = { membership: 1, anycast: 2, dialog: 3, location: 4, abuse: 5 };
export function capabilityOf(code: number): Capability | undefined {
  return CAPS[code - 1];
}

/** The bus key derived from the cluster secret (domain-separated from node.branch_secret). */
export function deriveKey(secret: string | Buffer): Buffer {
  return createHmac('sha256', secret).update('anysip bus v1').digest();
}

/** An Envelope as the bus code sees it. */
export interface Frame {
  version: number;
  capability: Capability;
  type: number;
  src: number;
  dst: number;
  seq: number;
  epoch: number;
  hops: number;
  payload: Uint8Array;
}

/** Raw Envelope fields as encoded (tests and the fuzzer use out-of-range values on purpose). */
export interface RawEnvelope {
  version?: number;
  capability?: number;
  type?: number;
  src?: number;
  dst?: number;
  seq?: number;
  epoch?: number;
  hops?: number;
  payload?: Uint8Array;
}

/** Encode and sign one frame, length prefix included. */
export function encodeFrame(key: Buffer, env: RawEnvelope): Buffer {
  const body = pb.Envelope.encode(env).finish();
  const len = body.length + MAC_SIZE;
  const buf = Buffer.allocUnsafe(LENGTH_SIZE + len);
  buf.writeUInt32BE(len, 0);
  buf.set(body, LENGTH_SIZE);
  const signed = LENGTH_SIZE + body.length;
  createHmac('sha256', key).update(buf.subarray(0, signed)).digest().copy(buf, signed);
  return buf;
}

export function encodeBusFrame(key: Buffer, f: Omit<Frame, 'version'> & { version?: number }): Buffer {
  return encodeFrame(key, { ...f, version: f.version ?? WIRE_VERSION, capability: CAPABILITY_CODE[f.capability] });
}

export type Verified = { ok: true; frame: Frame } | { ok: false; reason: DropReason };

const isId = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_NODE_ID;

/**
 * Check one complete frame (length prefix included, as FrameReader hands it out):
 * MAC first, so unauthenticated bytes never reach the protobuf decoder; then the
 * Envelope and its fields. Never throws.
 */
export function verifyFrame(key: Buffer, data: Buffer): Verified {
  if (data.length < LENGTH_SIZE + MAC_SIZE || data.readUInt32BE(0) !== data.length - LENGTH_SIZE) {
    return { ok: false, reason: 'truncated' };
  }
  const signed = data.length - MAC_SIZE;
  const mac = createHmac('sha256', key).update(data.subarray(0, signed)).digest();
  if (!timingSafeEqual(mac, data.subarray(signed))) return { ok: false, reason: 'bad_mac' };
  let env;
  try {
    env = pb.Envelope.decode(data.subarray(LENGTH_SIZE, signed));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const version = env.version ?? 0;
  if (version !== WIRE_VERSION) return { ok: false, reason: 'bad_version' };
  const capability = capabilityOf(env.capability ?? 0);
  if (!capability) return { ok: false, reason: 'unknown_capability' };
  const seq = u64(env.seq);
  const epoch = u64(env.epoch);
  const src = env.src ?? 0;
  const dst = env.dst ?? 0;
  if (!isId(src) || !(dst === 0 || isId(dst))) return { ok: false, reason: 'malformed' };
  if (!(Number.isSafeInteger(seq) && seq >= 1 && Number.isSafeInteger(epoch) && epoch >= 1)) return { ok: false, reason: 'malformed' };
  const hops = env.hops ?? 0;
  if (hops > 1) return { ok: false, reason: 'bad_hops' };
  return {
    ok: true,
    frame: { version, capability, type: env.type ?? 0, src, dst, seq, epoch, hops, payload: env.payload ?? new Uint8Array(0) },
  };
}

/**
 * Cuts a byte stream into frames. A length prefix above `maxFrameSize` cannot be
 * resynchronised: push() returns false and the reader stays dead (close the connection).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private dead = false;

  constructor(
    private readonly maxFrameSize: number,
    private readonly onFrame: (frame: Buffer) => void,
  ) {}

  /** False when the stream carried an oversized length prefix. */
  push(chunk: Buffer): boolean {
    if (this.dead) return false;
    let data: Buffer;
    if (this.have === 0) data = chunk;
    else {
      this.chunks.push(chunk);
      this.have += chunk.length;
      // Copy nothing until the frame in progress is complete.
      if (this.have < LENGTH_SIZE) return true;
      const len = this.peekLength();
      if (len > this.maxFrameSize) {
        this.kill();
        return false;
      }
      if (this.have < LENGTH_SIZE + len) return true;
      data = Buffer.concat(this.chunks, this.have);
      this.chunks = [];
      this.have = 0;
    }
    let off = 0;
    while (data.length - off >= LENGTH_SIZE) {
      const len = data.readUInt32BE(off);
      if (len > this.maxFrameSize) {
        this.kill();
        return false;
      }
      if (data.length - off - LENGTH_SIZE < len) break;
      this.onFrame(data.subarray(off, off + LENGTH_SIZE + len));
      off += LENGTH_SIZE + len;
    }
    if (off < data.length) {
      // Copy the tail: a subarray would pin the whole chunk while the rest trickles in.
      const rest = Buffer.from(data.subarray(off));
      this.chunks = [rest];
      this.have = rest.length;
    }
    return true;
  }

  /** Bytes of an incomplete frame held (non-zero at close = a truncated frame). */
  get pending(): number {
    return this.have;
  }

  private kill(): void {
    this.dead = true;
    this.chunks = [];
    this.have = 0;
  }

  private peekLength(): number {
    const head = this.chunks[0]!.length >= LENGTH_SIZE ? this.chunks[0]! : Buffer.concat(this.chunks, this.have);
    return head.readUInt32BE(0);
  }
}
