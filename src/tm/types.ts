// Contracts between the transaction layer (src/tm) and its user, the proxy core.

import type { SipMessage } from '../sip/message.js';
import type { Destination, Envelope } from '../transport/types.js';

/** RFC 3261 timer base values in milliseconds. */
export interface TimerSettings {
  t1: number; // default 500
  t2: number; // default 4000
  t4: number; // default 5000
  /** Proxy INVITE timer (RFC 3261 16.6 step 11), default 180000. */
  timerC: number;
  /** Timer D (RFC 3261 17.1.1.2: at least 32 s on unreliable transports), default 32000. */
  timerD?: number;
}

export const DEFAULT_TIMERS: TimerSettings = { t1: 500, t2: 4000, t4: 5000, timerC: 180_000 };

export type ServerState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';
export type ClientState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export interface ServerTransaction {
  readonly id: string;
  /** The request as received. After the final response it is kept as text and parsed again when read (a new object). */
  readonly request: SipMessage;
  readonly envelope: Envelope;
  readonly state: ServerState;
  /**
   * Last response sent (provisional or final), if any. After an INVITE 2xx (RFC 6026 Accepted: the TU,
   * not the transaction, repeats 2xx) only its status line is kept, so the 32 s of Accepted hold no copy.
   */
  readonly lastResponse: SipMessage | undefined;
  /**
   * Send a response (built by the caller, Via headers already as they must be).
   * Provisional: retransmitted on request retransmission. Final: drives the state machine
   * (INVITE 2xx -> Accepted per RFC 6026; INVITE 3xx-6xx -> Completed with G/H; non-INVITE -> Completed with J).
   */
  respond(res: SipMessage): void;
  /** Opaque slot for the transaction user (the proxy keeps its call context here). */
  user: unknown;
}

export interface ClientTransaction {
  readonly id: string;
  /** The request as sent (with our Via on top). After the final response it is kept as text and parsed again when read (a new object). */
  readonly request: SipMessage;
  readonly destination: Destination;
  readonly state: ClientState;
  /** Highest status received so far (0 = none). */
  readonly lastStatus: number;
  /**
   * INVITE only: send CANCEL for this branch (RFC 3261 9.1). Deferred until a provisional response
   * has arrived; does nothing once a final response has. `reason` becomes a Reason header if given.
   */
  cancel(reason?: string): void;
  user: unknown;
}

export interface ClientHandler {
  /**
   * Every response for the transaction that the TU must see: provisionals (except 100),
   * the final response, and (INVITE, RFC 6026 Accepted state) 2xx retransmissions.
   * Timeouts arrive as a locally generated 408, transport errors as a locally generated 503;
   * `env` is undefined for those.
   */
  onResponse(ct: ClientTransaction, res: SipMessage, env: Envelope | undefined): void;
}

export interface TransactionUser {
  /**
   * A request that matched no server transaction: a new transaction was created for it
   * (server is undefined for ACK, which never creates one: 2xx ACKs and stray ACKs land here).
   */
  onRequest(req: SipMessage, env: Envelope, server: ServerTransaction | undefined): void;
  /**
   * A CANCEL. `cancelTxn` is its own non-INVITE server transaction (the TU answers it);
   * `invite` is the INVITE server transaction it cancels, or undefined when none matches (then the TU
   * should answer 481 or forward statelessly per RFC 3261 16.10).
   */
  onCancel(cancelTxn: ServerTransaction, invite: ServerTransaction | undefined): void;
  /** A response that matched no client transaction (e.g. a late 2xx retransmission). */
  onStrayResponse(res: SipMessage, env: Envelope): void;
}
