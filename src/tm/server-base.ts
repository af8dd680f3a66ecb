// State and sending common to INVITE and non-INVITE server transactions.

import type { SipMessage } from '../sip/message.js';
import type { Destination, Envelope } from '../transport/types.js';
import type { TxnContext } from './context.js';
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
  /** To tag of the final response sent, for RFC 2543 ACK matching. */
  finalToTag: string | undefined = undefined;
  user: unknown = undefined;

  constructor(
    ctx: TxnContext,
    id: string,
    readonly request: SipMessage,
    readonly envelope: Envelope,
    initial: ServerState,
  ) {
    super(ctx, id);
    this.state = initial;
    this.destination = responseDestination(request.topVia, envelope);
    this.reliable = envelope.transport !== 'udp';
  }

  abstract respond(res: SipMessage): void;
  /** The request arrived again. */
  abstract onRetransmission(): void;

  /** Record and send a response. */
  protected sendResponse(res: SipMessage): void {
    this.lastResponse = res;
    this.wire = res.serialize();
    this.transmit(this.wire, this.destination);
  }

  protected resend(): void {
    if (this.wire !== undefined) this.transmit(this.wire, this.destination);
  }

  protected recordFinal(res: SipMessage): void {
    try {
      this.finalToTag = res.toTag;
    } catch {
      this.finalToTag = undefined; // a response without a parsable To still gets sent
    }
  }

  protected terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
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
