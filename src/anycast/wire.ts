// Payloads of the anycast capability on the cluster bus. A simple binary
// layout of our own (not protobuf): the forward path is hot, its fields are
// few and fixed, and the bus frame around it is already versioned and
// authenticated (src/bin-proto). Every decoder returns null on malformed
// input; nothing here throws on bytes from the bus.
//
//   FORWARD  u8 ver=1 | u8 flags | u8 transport | u8 hops | u16 remotePort | u16 localPort
//            | u32 connectionId | f64 receivedAt | str8 remote | str8 local | str8 socketId | SIP bytes
//   QUERY    u8 ver=1 | u32 qid | u8 count | (str16 key)*count
//   ANSWER   u8 ver=1 | u32 qid | u8 verdict
//   RELAY    u8 ver=1 | u8 transport (+0x80: connection only) | u16 port | u32 connectionId | str8 address | str8 socketId | SIP bytes
//   RELAY_FAILED u8 ver=1 | u32 connectionId        (the holder could not write a RELAY on its connection)
//   HISTORY? u8 ver=1                                   (a starting node asks a peer for its past views)
//   HISTORY  u8 ver=1 | u8 count | (u32 remaining ms | u8 n | u16 id * n) * count
//
// str8 / str16: length (u8 / u16 BE) then latin1 bytes.

import type { Destination, Envelope, TransportName } from '../transport/types.js';

export const MSG_FORWARD = 1;
export const MSG_QUERY = 2;
export const MSG_ANSWER = 3;
export const MSG_RELAY = 4;
export const MSG_HISTORY_REQUEST = 5;
export const MSG_HISTORY = 6;
export const MSG_RELAY_FAILED = 7;

const VERSION = 1;
const TRANSPORTS: readonly TransportName[] = ['udp', 'tcp', 'ws'];

/** FORWARD flags. */
export const FLAG_SECOND_CHANCE = 1;
const FLAG_HAS_CONNECTION = 2;

/** ANSWER verdicts. */
export const VERDICT_NONE = 0;
export const VERDICT_HAVE = 1;
/** The answering node is itself still asking about this key (receiver mode tie-break). */
export const VERDICT_PENDING = 2;

export interface Forwarded {
  env: Envelope;
  data: Buffer;
  flags: number;
}

/** Bytes a str8 field takes for `s` (latin1: one byte per char, at most 255). */
function strLen(s: string): number {
  return Math.min(s.length, 255);
}

function transportCode(t: TransportName): number {
  const i = TRANSPORTS.indexOf(t);
  return i < 0 ? 0 : i;
}

export function encodeForward(env: Envelope, data: Buffer, flags: number): Buffer {
  const r = env.remote.address;
  const l = env.local.address;
  const s = env.socketId;
  const head = 20 + 3 + strLen(r) + strLen(l) + strLen(s);
  const buf = Buffer.allocUnsafe(head + data.length);
  const hasConn = env.connectionId !== undefined;
  buf[0] = VERSION;
  buf[1] = flags | (hasConn ? FLAG_HAS_CONNECTION : 0);
  buf[2] = transportCode(env.transport);
  buf[3] = env.hops & 0xff;
  buf.writeUInt16BE(env.remote.port & 0xffff, 4);
  buf.writeUInt16BE(env.local.port & 0xffff, 6);
  buf.writeUInt32BE(hasConn ? env.connectionId! >>> 0 : 0, 8);
  buf.writeDoubleBE(env.receivedAt, 12);
  let p = 20;
  p = putStr8(buf, p, r);
  p = putStr8(buf, p, l);
  p = putStr8(buf, p, s);
  data.copy(buf, p);
  return buf;
}

export function decodeForward(payload: Uint8Array): Forwarded | null {
  const buf = asBuffer(payload);
  if (buf.length < 23 || buf[0] !== VERSION) return null;
  const flags = buf[1]!;
  const transport = TRANSPORTS[buf[2]!];
  if (transport === undefined) return null;
  const c = { p: 20 };
  const remote = getStr8(buf, c);
  const local = getStr8(buf, c);
  const socketId = getStr8(buf, c);
  if (remote === null || local === null || socketId === null || c.p >= buf.length) return null;
  const env: Envelope = {
    transport,
    remote: { address: remote, port: buf.readUInt16BE(4) },
    local: { address: local, port: buf.readUInt16BE(6) },
    socketId,
    receivedAt: buf.readDoubleBE(12),
    hops: buf[3]!,
  };
  if (flags & FLAG_HAS_CONNECTION) env.connectionId = buf.readUInt32BE(8);
  return { env, data: buf.subarray(c.p), flags: flags & ~FLAG_HAS_CONNECTION };
}

export interface Query {
  qid: number;
  /** serverKey of the message itself first, then the keys it may match (the INVITE's for CANCEL and ACK). */
  keys: string[];
}

export function encodeQuery(qid: number, keys: readonly string[]): Buffer {
  let len = 6;
  for (const k of keys) len += 2 + Math.min(k.length, 0xffff);
  const buf = Buffer.allocUnsafe(len);
  buf[0] = VERSION;
  buf.writeUInt32BE(qid >>> 0, 1);
  buf[5] = keys.length;
  let p = 6;
  for (const k of keys) {
    const n = buf.write(k.length > 0xffff ? k.slice(0, 0xffff) : k, p + 2, 'latin1');
    buf.writeUInt16BE(n, p);
    p += 2 + n;
  }
  return buf;
}

export function decodeQuery(payload: Uint8Array): Query | null {
  const buf = asBuffer(payload);
  if (buf.length < 6 || buf[0] !== VERSION) return null;
  const qid = buf.readUInt32BE(1);
  const n = buf[5]!;
  const keys: string[] = [];
  let p = 6;
  for (let i = 0; i < n; i++) {
    if (p + 2 > buf.length) return null;
    const len = buf.readUInt16BE(p);
    if (p + 2 + len > buf.length) return null;
    keys.push(buf.toString('latin1', p + 2, p + 2 + len));
    p += 2 + len;
  }
  return p === buf.length && n > 0 ? { qid, keys } : null;
}

export function encodeAnswer(qid: number, verdict: number): Buffer {
  const buf = Buffer.allocUnsafe(6);
  buf[0] = VERSION;
  buf.writeUInt32BE(qid >>> 0, 1);
  buf[5] = verdict;
  return buf;
}

export function decodeAnswer(payload: Uint8Array): { qid: number; verdict: number } | null {
  const buf = asBuffer(payload);
  if (buf.length !== 6 || buf[0] !== VERSION || buf[5]! > VERDICT_PENDING) return null;
  return { qid: buf.readUInt32BE(1), verdict: buf[5]! };
}

/** A response the owner wants written on a connection of the node that received the request. */
/** RELAY's transport byte, high bit: the holder sends only on that connection, never dials (Destination.connectionOnly). */
const CONNECTION_ONLY = 0x80;

export function encodeRelay(dest: Destination & { connectionId: number }, data: Buffer): Buffer {
  const a = dest.address;
  const s = dest.socketId ?? '';
  const buf = Buffer.allocUnsafe(8 + 2 + strLen(a) + strLen(s) + data.length);
  buf[0] = VERSION;
  buf[1] = transportCode(dest.transport) | (dest.connectionOnly ? CONNECTION_ONLY : 0);
  buf.writeUInt16BE(dest.port & 0xffff, 2);
  buf.writeUInt32BE(dest.connectionId >>> 0, 4);
  let p = putStr8(buf, 8, a);
  p = putStr8(buf, p, s);
  data.copy(buf, p);
  return buf;
}

export function decodeRelay(payload: Uint8Array): { dest: Destination; data: Buffer } | null {
  const buf = asBuffer(payload);
  if (buf.length < 11 || buf[0] !== VERSION) return null;
  const transport = TRANSPORTS[buf[1]! & ~CONNECTION_ONLY];
  if (transport === undefined) return null;
  const c = { p: 8 };
  const address = getStr8(buf, c);
  const socketId = getStr8(buf, c);
  if (address === null || socketId === null || c.p >= buf.length) return null;
  const dest: Destination = { transport, address, port: buf.readUInt16BE(2), connectionId: buf.readUInt32BE(4) };
  if (socketId !== '') dest.socketId = socketId;
  if (buf[1]! & CONNECTION_ONLY) dest.connectionOnly = true;
  return { dest, data: buf.subarray(c.p) };
}

export function encodeRelayFailed(connectionId: number): Buffer {
  const buf = Buffer.allocUnsafe(5);
  buf[0] = VERSION;
  buf.writeUInt32BE(connectionId >>> 0, 1);
  return buf;
}

export function decodeRelayFailed(payload: Uint8Array): number | null {
  const buf = asBuffer(payload);
  return buf.length === 5 && buf[0] === VERSION ? buf.readUInt32BE(1) : null;
}

function putStr8(buf: Buffer, p: number, s: string): number {
  const n = buf.write(s.length > 255 ? s.slice(0, 255) : s, p + 1, 'latin1');
  buf[p] = n;
  return p + 1 + n;
}

function getStr8(buf: Buffer, c: { p: number }): string | null {
  if (c.p >= buf.length) return null;
  const n = buf[c.p]!;
  const end = c.p + 1 + n;
  if (end > buf.length) return null;
  const s = buf.toString('latin1', c.p + 1, end);
  c.p = end;
  return s;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function encodeHistoryRequest(): Buffer {
  return Buffer.from([VERSION]);
}

/** Past views as (ms of grace left, up-set). */
export function encodeHistory(views: ReadonlyArray<{ remaining: number; up: readonly number[] }>): Buffer {
  const list = views.slice(0, 255);
  let len = 2;
  for (const v of list) len += 5 + 2 * Math.min(v.up.length, 255);
  const buf = Buffer.allocUnsafe(len);
  buf[0] = VERSION;
  buf[1] = list.length;
  let p = 2;
  for (const v of list) {
    buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.round(v.remaining))), p);
    const ids = v.up.slice(0, 255);
    buf[p + 4] = ids.length;
    p += 5;
    for (const id of ids) {
      buf.writeUInt16BE(id & 0xffff, p);
      p += 2;
    }
  }
  return buf;
}

export function decodeHistory(payload: Uint8Array): Array<{ remaining: number; up: number[] }> | null {
  const buf = asBuffer(payload);
  if (buf.length < 2 || buf[0] !== VERSION) return null;
  const out: Array<{ remaining: number; up: number[] }> = [];
  let p = 2;
  for (let i = 0; i < buf[1]!; i++) {
    if (p + 5 > buf.length) return null;
    const remaining = buf.readUInt32BE(p);
    const n = buf[p + 4]!;
    p += 5;
    if (p + 2 * n > buf.length) return null;
    const up: number[] = [];
    for (let k = 0; k < n; k++) up.push(buf.readUInt16BE(p + 2 * k));
    p += 2 * n;
    out.push({ remaining, up });
  }
  return p === buf.length ? out : null;
}
