// INVITE client transaction: RFC 3261 17.1.1 as amended by RFC 6026, plus the proxy's timer C (16.6 step 11).
//
//   calling --1xx--> proceeding (A and B stop; timer C restarts on each 101-199)
//   calling/proceeding --2xx--> accepted (M = 64*T1; every 2xx, retransmission or other fork, to the TU)
//   calling/proceeding --3xx-6xx--> completed (ACK sent hop by hop; retransmitted finals get the ACK again
//                                  and are absorbed; D = 32 s on UDP, 0 on reliable)
//   A: retransmit on UDP, T1 doubling (RFC 3261 17.1.1.2 does not cap A at T2; B ends it at 64*T1).
//   B: 408 to the TU. C: CANCEL if a provisional came (408 to the TU at once), else 408.

import type { SipMessage } from '../sip/message.js';
import type { Destination, Envelope } from '../transport/types.js';
import { buildAck } from '../sip/response.js';
import { ClientBase } from './client-base.js';
import type { TxnContext } from './context.js';
import { CANCEL_WAIT, LINGER, PROXY_C, RETRANSMIT, TIMEOUT } from './timer-kinds.js';
import type { ClientHandler } from './types.js';

export class InviteClientTransaction extends ClientBase {
  private gotProvisional = false;
  /** A final response (real or local 408) has been given to the TU; later non-2xx finals are not. */
  private finalReported = false;
  private cancelRequested = false;
  private cancelSent = false;
  private cancelReason: string | undefined = undefined;
  /** ACK for the non-2xx final, kept to answer its retransmissions. */
  private ackWire: Buffer | undefined = undefined;

  constructor(ctx: TxnContext, id: string, request: SipMessage, destination: Destination, handler: ClientHandler) {
    super(ctx, id, request, destination, handler, 'calling');
  }

  start(): void {
    const t = this.ctx.timers;
    if (!this.reliable) {
      this.interval = t.t1;
      this.arm(RETRANSMIT, this.interval); // A
    }
    this.arm(TIMEOUT, t.t64); // B
    if (t.timerC > 0) this.arm(PROXY_C, t.timerC);
    this.transmit(this.wire!, this.destination);
  }

  onResponse(res: SipMessage, env: Envelope): void {
    const status = res.status;
    const state = this.state;
    const pending = state === 'calling' || state === 'proceeding';
    if (status < 200) {
      if (!pending) return;
      this.note(status);
      if (state === 'calling') {
        this.state = 'proceeding';
        this.wire = undefined; // timer A is over: nothing re-sends the INVITE any more
        this.disarm(RETRANSMIT);
        this.disarm(TIMEOUT);
      }
      this.gotProvisional = true;
      if (this.cancelRequested && !this.cancelSent) this.sendCancel();
      if (status > 100) {
        if (this.ctx.timers.timerC > 0 && !this.cancelSent) this.arm(PROXY_C, this.ctx.timers.timerC);
        this.deliver(res, env);
      }
      return;
    }
    if (status < 300) {
      if (pending) {
        this.note(status);
        this.state = 'accepted';
        this.linger();
        this.wire = undefined;
        this.disarmAll();
        this.arm(LINGER, this.ctx.timers.t64); // M
        this.finalReported = true;
        this.deliver(res, env);
      } else if (state === 'accepted') {
        this.deliver(res, env); // RFC 6026: 2xx retransmissions and other forks' 2xx go to the TU
      }
      return;
    }
    if (pending) {
      this.note(status);
      this.state = 'completed';
      this.disarmAll();
      const ack = buildAck(this.request, res).serialize();
      this.ackWire = ack;
      this.linger();
      this.wire = undefined;
      this.transmit(ack, this.destination);
      this.ctx.events?.onRequestSent?.('ACK'); // once: the ACKs repeated for retransmitted finals are not
      const report = !this.finalReported;
      this.finalReported = true;
      if (this.reliable) {
        this.terminate(); // D = 0
      } else {
        this.arm(LINGER, this.ctx.timers.timerD); // D
      }
      if (report) this.deliver(res, env);
    } else if (state === 'completed') {
      this.ctx.counters.responseRetransmissions++;
      if (this.ackWire !== undefined) this.transmit(this.ackWire, this.destination);
    }
  }

  /** RFC 3261 9.1: CANCEL only once a provisional came; nothing once a final did. */
  override cancel(reason?: string): void {
    if (this.cancelRequested || this.finalReported) return;
    if (this.state !== 'calling' && this.state !== 'proceeding') return;
    this.cancelRequested = true;
    this.cancelReason = reason;
    if (this.gotProvisional) this.sendCancel();
  }

  private sendCancel(): void {
    this.cancelSent = true;
    this.disarm(PROXY_C);
    this.arm(CANCEL_WAIT, this.ctx.timers.t64);
    this.ctx.sendCancel(this, this.cancelReason);
  }

  onTimer(kind: number): void {
    this.fired(kind);
    const state = this.state;
    switch (kind) {
      case RETRANSMIT: // A
        if (state !== 'calling') return;
        this.retransmit();
        this.interval *= 2;
        this.arm(RETRANSMIT, this.interval);
        return;
      case TIMEOUT: // B
        if (state !== 'calling') return;
        this.timeout();
        return;
      case PROXY_C:
        if (state !== 'calling' && state !== 'proceeding') return;
        if (this.gotProvisional) {
          // RFC 3261 16.8: cancel the branch; the TU gets its 408 now, the 487 is absorbed later.
          this.ctx.counters.timeouts++;
          this.cancel();
          this.finalReported = true;
          this.deliverLocal(408);
        } else {
          this.timeout();
        }
        return;
      case CANCEL_WAIT: // RFC 3261 9.1: no final 64*T1 after CANCEL: give the transaction up
        if (state !== 'calling' && state !== 'proceeding') return;
        this.ctx.counters.timeouts++;
        this.terminate();
        if (!this.finalReported) {
          this.finalReported = true;
          this.deliverLocal(408);
        }
        return;
      case LINGER: // D, M
        this.terminate();
        return;
    }
  }

  private timeout(): void {
    this.ctx.counters.timeouts++;
    this.terminate();
    if (!this.finalReported) {
      this.finalReported = true;
      this.deliverLocal(408);
    }
  }
}
