// INVITE server transaction: RFC 3261 17.2.1 as amended by RFC 6026 (Accepted state, timer L).
//
//   proceeding --1xx--> proceeding (sent; re-sent on INVITE retransmission)
//   proceeding --2xx--> accepted   (L = 64*T1; TU 2xx retransmissions sent; ACKs to TU; INVITEs absorbed)
//   proceeding --3xx-6xx--> completed (G retransmits on UDP, H = 64*T1 waits for the ACK)
//   completed --ACK--> confirmed (ACK absorbed; I = T4 on UDP, 0 on reliable)

import type { SipMessage } from '../sip/message.js';
import type { Envelope } from '../transport/types.js';
import type { TxnContext } from './context.js';
import { ServerBase } from './server-base.js';
import { LINGER, RETRANSMIT, TIMEOUT } from './timer-kinds.js';

export class InviteServerTransaction extends ServerBase {
  private interval = 0;

  constructor(ctx: TxnContext, id: string, request: SipMessage, envelope: Envelope) {
    super(ctx, id, request, envelope, 'proceeding');
  }

  respond(res: SipMessage): void {
    const status = res.status;
    if (this.state === 'proceeding') {
      if (status < 200) {
        this.sendResponse(res);
      } else if (status < 300) {
        this.state = 'accepted';
        this.recordFinal(res);
        this.arm(LINGER, this.ctx.timers.t64); // L
        this.sendResponse(res, false);
        this.linger();
      } else {
        this.state = 'completed';
        this.recordFinal(res);
        if (!this.reliable) {
          this.interval = this.ctx.timers.t1;
          this.arm(RETRANSMIT, this.interval); // G
        }
        this.arm(TIMEOUT, this.ctx.timers.t64); // H
        this.sendResponse(res);
        this.linger();
      }
    } else if (this.state === 'accepted' && status >= 200 && status < 300) {
      // RFC 6026 7.1: 2xx retransmissions (or other forks' 2xx) from the TU go out as they come.
      this.sendResponse(res, false);
    }
  }

  onRetransmission(): void {
    this.ctx.counters.requestRetransmissions++;
    // Proceeding: repeat the last provisional; completed: the final. Accepted/confirmed: absorb.
    if (this.state === 'proceeding' || this.state === 'completed') this.resend();
  }

  /** An ACK matching this transaction (i.e. for a non-2xx final, or any ACK in RFC 2543 matching). */
  onAck(ack: SipMessage, env: Envelope): void {
    switch (this.state) {
      case 'completed':
        this.state = 'confirmed';
        this.disarm(RETRANSMIT);
        this.disarm(TIMEOUT);
        if (this.reliable) this.terminate();
        else this.arm(LINGER, this.ctx.timers.t4); // I
        break;
      case 'accepted':
        this.ctx.user.onRequest(ack, env, undefined); // RFC 6026: ACK for the 2xx goes to the TU
        break;
      default:
        this.ctx.counters.requestRetransmissions++; // confirmed: absorb ACK retransmissions
    }
  }

  onTimer(kind: number): void {
    this.fired(kind);
    switch (kind) {
      case RETRANSMIT: // G
        if (this.state !== 'completed') return;
        this.ctx.counters.retransmissionsSent++;
        this.resend();
        this.interval = Math.min(this.interval * 2, this.ctx.timers.t2);
        this.arm(RETRANSMIT, this.interval);
        break;
      case TIMEOUT: // H
        if (this.state !== 'completed') return;
        this.ctx.counters.timeouts++;
        this.terminate();
        this.ctx.events?.onServerTimeout?.(this);
        break;
      case LINGER: // I, L
        this.terminate();
        break;
    }
  }
}
