// State and sending common to INVITE and non-INVITE server transactions.

import { SipMessage } from '../sip/message.js';
import type { Destination, Envelope } from '../transport/types.js';
import type { TxnContext } from './context.js';
import { isRfc2543Key } from './matching.js';
import { FrozenRequest } from './frozen.js';
import { responseDestination } from './response-route.js';
import { TxnBase } from './txn-base.js';
import type { ServerState, ServerTransaction } from './types.js';

export abstract class ServerBase extends TxnBase implements ServerTransaction {
  state: ServerState;
  lastResponse: SipMessage | undefined = undefined;
  /** Wire form of lastResponse, re-sent on request retransmissions and timer G. */
  protected wire: Buffer | undefined = undefined;
  /** Where responses go (RFC 3261 18.2.2 / RFC 3581), fixed at creation. */
  readonly destination: Destination;
  readonly reliable: boolean;
  /** To tag of the final response sent, for RFC 2543 ACK matching (RFC 2543 transactions only). */
  finalToTag: string | undefined = undefined;
  user: unknown = undefined;
  private readonly req: FrozenRequest;

  constructor(
    ctx: TxnContext,
    id: string,
    request: SipMessage,
    readonly envelope: Envelope,
    initial: ServerState,
  ) {
    super(ctx, id);
    this.req = new FrozenRequest(request);
    this.state = initial;
    this.destination = responseDestination(request.topVia, envelope);
    this.reliable = envelope.transport !== 'udp';
  }

  /** The request as received; once the transaction lingers, parsed again from its text when read. */
  get request(): SipMessage {
    return this.req.message;
  }

  abstract respond(res: SipMessage): void;
  /** The request arrived again. */
  abstract onRetransmission(): void;

  /**
   * Record and send a response. `resendable` false (an INVITE 2xx: the TU, not the transaction,
   * repeats those) keeps no wire copy, so the Accepted state holds none for its 32 s.
   */
  protected sendResponse(res: SipMessage, resendable = true): void {
    const wire = res.serialize();
    // Not resendable (an INVITE 2xx) means the Accepted state: 32 s in which only the status counts.
    this.lastResponse = resendable ? res : SipMessage.response(res.status, res.reason);
    this.wire = resendable ? wire : undefined;
    this.transmit(wire, this.destination);
  }

  protected resend(): void {
    if (this.wire !== undefined) this.transmit(this.wire, this.destination);
  }

  /**
   * The final response is out: from here the transaction only absorbs retransmissions for 32 s
   * (Accepted, Completed). Its request is kept as text (frozen.ts), its last response without its
   * parsed views, so thousands of lingering transactions hold less.
   */
  protected linger(): void {
    this.req.freeze();
    this.lastResponse?.compact();
  }

  protected recordFinal(res: SipMessage): void {
    // Only RFC 2543 matching compares To tags (17.2.3); an RFC 3261 transaction keeps none, which also
    // spares it a slice of the response's text (the tag) that would keep the whole response alive.
    if (!isRfc2543Key(this.id)) return;
    try {
      this.finalToTag = res.toTag;
    } catch {
      this.finalToTag = undefined; // a response without a parsable To still gets sent
    }
  }

  protected terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.wire = undefined;
    this.disarmAll();
    this.ctx.dropServer(this.id, this);
  }

  protected onTransportError(err: Error): void {
    if (this.state === 'terminated') return;
    this.ctx.counters.transportErrors++;
    this.ctx.events?.onTransportError?.(this, err);
    this.terminate(); // RFC 3261 17.2.4
  }
}
