// The bus frames of a replicated table (anysip.proto: ReplicaType and its
// messages). Decoding never throws to the caller: bad bytes are undefined.

import { pb, u64 } from '../bin-proto/proto.js';
import type { StoredRecord, TableKind } from './types.js';

export const MSG_DELTA = 1;
export const MSG_SYNC_REQUEST = 2;
export const MSG_SYNC_CHUNK = 3;
export const MSG_SYNC_ACK = 4;
export const MSG_SYNC_OFFER = 5;

type WireRecord = { key: string; time: number; origin: number; expiresAt: number; deleted: boolean; value: Uint8Array };

export function toWire<V>(kind: TableKind<V>, r: StoredRecord<V>): WireRecord {
  return { key: r.key, time: r.time, origin: r.origin, expiresAt: r.expiresAt, deleted: r.deleted, value: kind.encode(r.value) };
}

/** Records of a frame; undefined entries are records that could not be decoded. */
export function fromWire<V>(kind: TableKind<V>, records: ReadonlyArray<Partial<WireRecord> | null | undefined>): Array<StoredRecord<V> | undefined> {
  return records.map((w) => {
    if (!w?.key || !w.time || !w.origin) return undefined;
    try {
      return { key: w.key, time: w.time, origin: w.origin, expiresAt: w.expiresAt ?? 0, deleted: w.deleted === true, value: kind.decode(w.value ?? new Uint8Array()) };
    } catch {
      return undefined;
    }
  });
}

export function encodeBatch(schema: number, records: WireRecord[]): Uint8Array {
  return pb.ReplicaBatch.encode({ schema, records }).finish();
}

export function decodeBatch(bytes: Uint8Array): { schema: number; records: Partial<WireRecord>[] } | undefined {
  try {
    const m = pb.ReplicaBatch.decode(bytes);
    return { schema: m.schema ?? 0, records: (m.records ?? []) as Partial<WireRecord>[] };
  } catch {
    return undefined;
  }
}

export interface SyncRequestMsg {
  session: number;
  window: number;
  schema: number;
}

export function encodeSyncRequest(m: SyncRequestMsg): Uint8Array {
  return pb.SyncRequest.encode(m).finish();
}

export function decodeSyncRequest(bytes: Uint8Array): SyncRequestMsg | undefined {
  try {
    const m = pb.SyncRequest.decode(bytes);
    return { session: u64(m.session), window: m.window ?? 0, schema: m.schema ?? 0 };
  } catch {
    return undefined;
  }
}

export interface SyncChunkMsg {
  session: number;
  index: number;
  records: Partial<WireRecord>[];
  last: boolean;
  total: number;
  refused: string;
}

export function encodeSyncChunk(m: Omit<SyncChunkMsg, 'records'> & { records: WireRecord[] }): Uint8Array {
  return pb.SyncChunk.encode(m).finish();
}

export function decodeSyncChunk(bytes: Uint8Array): SyncChunkMsg | undefined {
  try {
    const m = pb.SyncChunk.decode(bytes);
    return {
      session: u64(m.session),
      index: m.index ?? 0,
      records: (m.records ?? []) as Partial<WireRecord>[],
      last: m.last === true,
      total: m.total ?? 0,
      refused: m.refused ?? '',
    };
  } catch {
    return undefined;
  }
}

export function encodeSyncAck(session: number, index: number): Uint8Array {
  return pb.SyncAck.encode({ session, index }).finish();
}

export function decodeSyncAck(bytes: Uint8Array): { session: number; index: number } | undefined {
  try {
    const m = pb.SyncAck.decode(bytes);
    return { session: u64(m.session), index: m.index ?? 0 };
  } catch {
    return undefined;
  }
}
