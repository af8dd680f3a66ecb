// Timer bookkeeping and sending shared by the four state machines.

import type { Destination } from '../transport/types.js';
import type { TxnContext } from './context.js';
import { TIMER_KINDS } from './timer-kinds.js';
import type { TimerHandle, TimerTarget } from './timer-wheel.js';

export abstract class TxnBase implements TimerTarget {
  /** Armed timers by kind (see timer-kinds.ts). */
  private readonly handles: (TimerHandle | undefined)[] = new Array<TimerHandle | undefined>(TIMER_KINDS);
  /** One error callback per transaction, created on first send (not per message). */
  private errCb: ((err: Error) => void) | undefined;

  constructor(
    protected readonly ctx: TxnContext,
    readonly id: string,
  ) {}

  abstract onTimer(kind: number): void;
  protected abstract onTransportError(err: Error): void;

  protected arm(kind: number, delayMs: number): void {
    const h = this.handles[kind];
    if (h !== undefined) this.ctx.wheel.cancel(h);
    else this.ctx.armed++;
    this.handles[kind] = this.ctx.wheel.schedule(delayMs, this, kind);
  }

  protected disarm(kind: number): void {
    const h = this.handles[kind];
    if (h === undefined) return;
    this.ctx.wheel.cancel(h);
    this.handles[kind] = undefined;
    this.ctx.armed--;
  }

  /** Called first thing in onTimer: the handle of a fired timer is spent. */
  protected fired(kind: number): void {
    if (this.handles[kind] !== undefined) {
      this.handles[kind] = undefined;
      this.ctx.armed--;
    }
  }

  protected disarmAll(): void {
    for (let k = 0; k < TIMER_KINDS; k++) this.disarm(k);
  }

  protected transmit(data: Buffer, dest: Destination): void {
    this.ctx.sender.send(data, dest, (this.errCb ??= (err: Error) => this.onTransportError(err)));
  }
}
