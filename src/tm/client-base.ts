// State and sending common to INVITE and non-INVITE client transactions.

import type { SipMessage } from '../sip/message.js';
import type { Destination, Envelope } from '../transport/types.js';
import type { TxnContext } from './context.js';
import { FrozenRequest } from './frozen.js';
import { TxnBase } from './txn-base.js';
import type { ClientHandler, ClientState, ClientTransaction } from './types.js';

export abstract class ClientBase extends TxnBase implements ClientTransaction {
  state: ClientState;
  lastStatus = 0;
  user: unknown = undefined;
  readonly reliable: boolean;
  /**
   * The request's wire form, serialized once and re-sent by A / E. Released (undefined) once no
   * retransmission can follow, so a transaction lingering in Accepted / Completed holds no copy.
   */
  protected wire: Buffer | undefined;
  /** Current retransmission interval. */
  protected interval = 0;
  private readonly req: FrozenRequest;

  constructor(
    ctx: TxnContext,
    id: string,
    request: SipMessage,
    readonly destination: Destination,
    protected readonly handler: ClientHandler,
    initial: ClientState,
  ) {
    super(ctx, id);
    this.req = new FrozenRequest(request);
    this.state = initial;
    this.reliable = destination.transport !== 'udp';
    this.wire = request.serialize();
  }

  /** The request as sent; once the transaction has its final response, parsed again from its text when read. */
  get request(): SipMessage {
    return this.req.message;
  }

  /**
   * The final response is in: from here the transaction only absorbs retransmissions (Accepted,
   * Completed), so its request is kept as text (frozen.ts). Before `wire` is released.
   */
  protected linger(): void {
    this.req.freeze(this.wire);
  }

  /** Send the request and arm the initial timers. */
  abstract start(): void;
  /** A response whose top Via branch and CSeq method match this transaction. */
  abstract onResponse(res: SipMessage, env: Envelope): void;

  cancel(_reason?: string): void {
    // Only INVITE transactions can be cancelled.
  }

  protected note(status: number): void {
    if (status > this.lastStatus) this.lastStatus = status;
  }

  protected deliver(res: SipMessage, env: Envelope | undefined): void {
    this.handler.onResponse(this, res, env);
  }

  /** Report a locally generated final response (408 timeout, 503 transport error) to the TU. */
  protected deliverLocal(status: number): void {
    this.note(status);
    this.deliver(this.ctx.localResponse(this.request, status), undefined);
  }

  protected retransmit(): void {
    if (this.wire === undefined) return;
    this.ctx.counters.retransmissionsSent++;
    this.transmit(this.wire, this.destination);
  }

  protected terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.wire = undefined;
    this.disarmAll();
    this.ctx.dropClient(this.id, this);
  }

  protected onTransportError(err: Error): void {
    if (this.state === 'terminated') return;
    this.ctx.counters.transportErrors++;
    this.ctx.events?.onTransportError?.(this, err);
    // RFC 3261 17.1.1.2 / 17.1.2.2: the TU learns of it as a 503 unless a final response is already in.
    const pending = this.state === 'calling' || this.state === 'trying' || this.state === 'proceeding';
    this.terminate();
    if (pending && this.lastStatus < 200) this.deliverLocal(503);
  }
}
