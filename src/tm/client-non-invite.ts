// Non-INVITE client transaction: RFC 3261 17.1.2.
//
//   trying --1xx--> proceeding --final--> completed (K = T4 on UDP, 0 on reliable) --> terminated
//   E: retransmit on UDP, T1 doubling capped at T2 (T2 flat once proceeding). F = 64*T1: 408 to the TU.

import type { SipMessage } from '../sip/message.js';
import type { Destination, Envelope } from '../transport/types.js';
import { ClientBase } from './client-base.js';
import type { TxnContext } from './context.js';
import { LINGER, RETRANSMIT, TIMEOUT } from './timer-kinds.js';
import type { ClientHandler } from './types.js';

export class NonInviteClientTransaction extends ClientBase {
  constructor(ctx: TxnContext, id: string, request: SipMessage, destination: Destination, handler: ClientHandler) {
    super(ctx, id, request, destination, handler, 'trying');
  }

  start(): void {
    if (!this.reliable) {
      this.interval = this.ctx.timers.t1;
      this.arm(RETRANSMIT, this.interval); // E
    }
    this.arm(TIMEOUT, this.ctx.timers.t64); // F
    this.transmit(this.wire!, this.destination);
  }

  onResponse(res: SipMessage, env: Envelope): void {
    const status = res.status;
    if (this.state === 'completed') {
      if (status >= 200) this.ctx.counters.responseRetransmissions++;
      return;
    }
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.note(status);
    if (status < 200) {
      this.state = 'proceeding';
      if (status > 100) this.deliver(res, env);
      return;
    }
    this.state = 'completed';
    this.linger();
    this.wire = undefined; // timer E is over
    this.disarm(RETRANSMIT);
    this.disarm(TIMEOUT);
    if (this.reliable) {
      this.terminate(); // K = 0
    } else {
      this.arm(LINGER, this.ctx.timers.t4); // K
    }
    this.deliver(res, env);
  }

  onTimer(kind: number): void {
    this.fired(kind);
    const state = this.state;
    switch (kind) {
      case RETRANSMIT: // E
        if (state !== 'trying' && state !== 'proceeding') return;
        this.retransmit();
        this.interval = state === 'proceeding' ? this.ctx.timers.t2 : Math.min(this.interval * 2, this.ctx.timers.t2);
        this.arm(RETRANSMIT, this.interval);
        return;
      case TIMEOUT: // F
        if (state !== 'trying' && state !== 'proceeding') return;
        this.ctx.counters.timeouts++;
        this.terminate();
        this.deliverLocal(408);
        return;
      case LINGER: // K
        this.terminate();
        return;
    }
  }
}
