// Non-INVITE server transaction: RFC 3261 17.2.2.
//
//   trying --1xx--> proceeding --final--> completed (J = 64*T1 on UDP, 0 on reliable) --> terminated
//   Request retransmissions: absorbed in trying, answered with the last response afterwards.

import type { SipMessage } from '../sip/message.js';
import type { Envelope } from '../transport/types.js';
import type { TxnContext } from './context.js';
import { ServerBase } from './server-base.js';
import { LINGER } from './timer-kinds.js';

export class NonInviteServerTransaction extends ServerBase {
  constructor(ctx: TxnContext, id: string, request: SipMessage, envelope: Envelope) {
    super(ctx, id, request, envelope, 'trying');
  }

  respond(res: SipMessage): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (res.status < 200) {
      this.state = 'proceeding';
      this.sendResponse(res);
      return;
    }
    this.state = 'completed';
    this.recordFinal(res);
    this.sendResponse(res);
    this.linger();
    if (this.reliable) this.terminate();
    else this.arm(LINGER, this.ctx.timers.t64); // J
  }

  onRetransmission(): void {
    this.ctx.counters.requestRetransmissions++;
    if (this.state !== 'trying') this.resend();
  }

  onTimer(kind: number): void {
    this.fired(kind);
    if (kind === LINGER) this.terminate();
  }
}
