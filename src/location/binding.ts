// A binding: one contact of one address-of-record, with where its REGISTER
// really came from, and its encoding as a replicated record (src/replica).

import { pb } from '../bin-proto/proto.js';
import type { SipMessage } from '../sip/message.js';
import type { Destination, TransportName } from '../transport/types.js';
import type { TableKind } from '../replica/types.js';
import { EMPTY_PATH, sharedString } from './stored.js';

/** Where the REGISTER came from. For stream transports, `node` holds the connection `connectionId`. */
export interface BindingSource extends Destination {
  /** The node that holds the connection (stream transports); 0 when none is known. */
  node: number;
  /** The phone registered its own address from behind a NAT: reach it where the REGISTER came from (nat.ts). */
  nat?: true;
}

export interface Binding {
  aor: string;
  /** Contact URI text exactly as registered. */
  contact: string;
  /** 0..1; contacts without q sort as 1.0 (RFC 3261 leaves it to us; Kamailio does the same). */
  q: number;
  /** q as written, to echo it back ('' when absent). */
  qText: string;
  expiresAt: number;
  callId: string;
  cseq: number;
  /** Path header values from the REGISTER (RFC 3327), top first. */
  path: readonly string[];
  source: BindingSource;
  userAgent?: string;
  /** RFC 5626 +sip.instance and reg-id, when the UA sent them. */
  instance?: string;
  regId?: number;
}

/** An RFC 5626 flow: a binding with +sip.instance and reg-id. */
export function isOutboundFlow(b: Binding): boolean {
  return b.instance !== undefined && b.regId !== undefined;
}

/** The UA said `Supported: outbound` (RFC 5626 6). */
export function supportsOutbound(req: SipMessage): boolean {
  return req.getAll('supported').some((tag) => tag.toLowerCase() === 'outbound');
}

const TRANSPORTS: ReadonlySet<string> = new Set(['udp', 'tcp', 'ws']);

export function encodeBinding(b: Binding): Uint8Array {
  const s = b.source;
  return pb.LocationBinding.encode({
    aor: b.aor,
    contact: b.contact,
    q: b.qText,
    callId: b.callId,
    cseq: b.cseq,
    path: b.path as string[], // encode only reads it
    transport: s.transport,
    address: s.address,
    port: s.port,
    socketId: s.socketId ?? '',
    flowNode: s.node,
    connectionId: s.connectionId ?? 0,
    userAgent: b.userAgent ?? '',
    instance: b.instance ?? '',
    regId: b.regId ?? 0,
    nat: s.nat ?? false,
  }).finish();
}

/** Throws on bad bytes or a binding that makes no sense (the replica counts it as a bad record). */
export function decodeBinding(bytes: Uint8Array, expiresAt = 0): Binding {
  const m = pb.LocationBinding.decode(bytes);
  const transport = m.transport ?? '';
  if (!m.aor || !m.contact || !TRANSPORTS.has(transport)) throw new Error('incomplete binding');
  const qText = m.q ?? '';
  return {
    aor: m.aor,
    contact: m.contact,
    q: qText === '' ? 1 : Number(qText),
    qText,
    expiresAt,
    callId: m.callId ?? '',
    cseq: m.cseq ?? 0,
    path: m.path?.length ? m.path : EMPTY_PATH,
    source: {
      transport: transport as TransportName,
      address: m.address ?? '',
      port: m.port ?? 0,
      ...(m.socketId ? { socketId: sharedString(m.socketId) } : {}),
      ...(m.connectionId ? { connectionId: m.connectionId } : {}),
      node: m.flowNode ?? 0,
      ...(m.nat ? { nat: true as const } : {}),
    },
    ...(m.userAgent ? { userAgent: sharedString(m.userAgent) } : {}),
    ...(m.instance ? { instance: m.instance } : {}),
    ...(m.regId ? { regId: m.regId } : {}),
  };
}

/** The location table as a replicated kind. `maxExpiresMs` + `skewMs` bounds how long a binding lives. */
export function locationKind(maxExpiresMs: number, skewMs: number): TableKind<Binding> {
  return {
    name: 'location',
    capability: 'location',
    schema: 1,
    encode: encodeBinding,
    decode: (bytes) => decodeBinding(bytes),
    horizonMs: maxExpiresMs + skewMs,
  };
}
