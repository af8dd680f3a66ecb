// What a transaction needs from the layer that owns it. Kept as an interface so each state machine
// lives in its own file without importing the layer.

import type { SipMessage } from '../sip/message.js';
import type { Sender } from '../transport/types.js';
import type { TimerWheel } from './timer-wheel.js';
import type { ClientTransaction, ServerTransaction, TransactionUser } from './types.js';

/** Monotonic counters, exposed by TransactionLayer.stats(). */
export interface TmCounters {
  serverCreated: number;
  clientCreated: number;
  /** Requests and responses we re-sent on a retransmission timer (A, E, G). */
  retransmissionsSent: number;
  /** Retransmitted requests that hit a server transaction (answered again or absorbed). */
  requestRetransmissions: number;
  /** Retransmitted final responses absorbed by a client transaction. */
  responseRetransmissions: number;
  /** B, F, H and timer C expirations. */
  timeouts: number;
  /** Responses that matched no client transaction (handed to TransactionUser.onStrayResponse). */
  strayResponses: number;
  transportErrors: number;
}

/**
 * Why tm dropped a message (TmEvents.onDrop). Fixed identifiers: the node counts them in
 * sip_drops_total{reason} beside every other layer's drops, so they are not in TmCounters too.
 */
export const TM_DROP_REASONS = ['unmatchable_request', 'unmatchable_response', 'unroutable_response'] as const;
export type TmDropReason = (typeof TM_DROP_REASONS)[number];

export function newCounters(): TmCounters {
  return {
    serverCreated: 0,
    clientCreated: 0,
    retransmissionsSent: 0,
    requestRetransmissions: 0,
    responseRetransmissions: 0,
    timeouts: 0,
    strayResponses: 0,
    transportErrors: 0,
  };
}

/** Optional notifications for the node (logging, metrics); none is required for correct operation. */
export interface TmEvents {
  /** Timer H fired: no ACK came for a non-2xx final response. */
  onServerTimeout?(st: ServerTransaction): void;
  /** A send failed (the client side also reports it to its handler as a local 503). */
  onTransportError?(txn: ServerTransaction | ClientTransaction, err: Error): void;
  /**
   * A request went to the transport for the first time: every client transaction's (relayed, locally
   * originated, our own CANCEL), every stateless one, and the ACK we build for a non-2xx final.
   * Retransmissions are not reported (TmCounters.retransmissionsSent, responseRetransmissions).
   */
  onRequestSent?(method: string): void;
  /** A message was dropped; without this listener tm's drops are not counted anywhere. */
  onDrop?(reason: TmDropReason): void;
}

/** Timer values resolved for use (all in ms). */
export interface ResolvedTimers {
  t1: number;
  t2: number;
  t4: number;
  timerC: number;
  timerD: number;
  /** 64*T1: B, F, H, J, L, M. */
  t64: number;
}

export interface TxnContext {
  readonly timers: ResolvedTimers;
  readonly wheel: TimerWheel;
  readonly sender: Sender;
  readonly user: TransactionUser;
  readonly counters: TmCounters;
  readonly events: TmEvents | undefined;
  /** Timers currently armed by transactions of this layer. */
  armed: number;
  /** Remove a terminated transaction from the match tables. */
  dropServer(id: string, txn: object): void;
  dropClient(id: string, txn: object): void;
  /** Send a CANCEL for this INVITE client transaction (its own non-INVITE client transaction). */
  sendCancel(invite: ClientTransaction, reason: string | undefined): void;
  /** A locally generated response to a request (timeouts: 408, transport errors: 503). */
  localResponse(req: SipMessage, status: number): SipMessage;
}
