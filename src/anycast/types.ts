// Settings and seams of the anycast gate.

import type { SipMessage } from '../sip/message.js';
import type { DecodedBranch } from '../tm/branch.js';
import type { Envelope } from '../transport/types.js';

/**
 * hash: the owner of every request is the rendezvous owner of its Call-ID over the `up` nodes.
 * receiver: the node that receives a request owns what it creates; strays are looked up cluster-wide.
 */
export type AnycastMode = 'hash' | 'receiver';

export interface AnycastSettings {
  mode: AnycastMode;
  /** ms during which the owners of a replaced view are still asked about keys that moved (second chance). */
  second_chance: number;
  /** ms to wait for the answers to an ownership query before deciding without them. */
  query_timeout: number;
}

export const DEFAULT_ANYCAST: AnycastSettings = { mode: 'hash', second_chance: 212_000, query_timeout: 50 };

/** The part of the transaction layer the gate uses. */
export interface GateTm {
  receive(msg: SipMessage, env: Envelope): void;
  decodeBranch(branch: string | undefined): DecodedBranch | null;
  hasServerKey(key: string): boolean;
}

/** Optional notifications (debug logs, the simulator's invariant checks). None is needed to run. */
export interface GateEvents {
  /** A message is put on the bus for node `dst`. */
  onForward?(dst: number, msg: SipMessage, env: Envelope, secondChance: boolean): void;
  /** A message is handed to this node's transaction layer. */
  onLocal?(msg: SipMessage, env: Envelope): void;
}
