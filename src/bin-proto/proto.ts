// Typed access to the generated protobuf code (src/bin-proto/gen, from anysip.proto).
// The generated module is plain JS under @ts-nocheck; its types come from pbts.

import { anysip as generated } from './gen/anysip.pb.js';
import type { anysip as Types } from './gen/anysip.pb.types.js';

export const pb = (generated as unknown as typeof Types).bus;
export type { Types };

export type EnvelopeMsg = Types.bus.Envelope;
export type HelloMsg = Types.bus.Hello;
export type HeartbeatMsg = Types.bus.Heartbeat;
export type MemberViewMsg = Types.bus.IMemberView;
export type IdInUseMsg = Types.bus.IdInUse;

/** uint64 fields decode to a Long when the long package is present, else a number. */
export function u64(v: number | { toNumber(): number } | null | undefined): number {
  if (v == null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
