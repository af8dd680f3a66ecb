// Hashed timer wheel: one ring of slots, each a doubly linked list of entries.
// Transactions implement TimerTarget so a timer costs one small entry object and
// no closure. Time only moves when advance() is called: production calls it from
// one setInterval (start()) that runs only while timers are armed, the simulator
// and the tests call it by hand.

import type { Clock } from '../core/clock.js';

export interface TimerTarget {
  onTimer(kind: number): void;
}

/** Opaque handle returned by schedule(); pass it to cancel(). */
export interface TimerHandle {
  /** Absolute time (wheel time, ms) the timer is due. */
  readonly due: number;
}

// Entry states.
const LINKED = 0; // in a slot list
const BATCHED = 1; // taken out of its slot, waiting in the firing batch
const DONE = 2; // fired or cancelled

class Entry implements TimerHandle {
  prev: Entry | null = null;
  next: Entry | null = null;
  state = LINKED;
  constructor(
    readonly due: number,
    readonly tick: number,
    readonly seq: number,
    public target: TimerTarget | null,
    readonly kind: number,
  ) {}
}

export interface TimerWheelOptions {
  /** Resolution in ms (default 10). Timers never fire early; they may fire up to one advance() interval late. */
  tickMs?: number;
  /** Ring size (default 4096: 41 s per revolution at 10 ms, so most SIP timers never wrap). */
  slots?: number;
  /** Initial wheel time (default 0); use clock.now() in production. */
  now?: number;
  /** Called with an exception thrown by a timer target; default: rethrown once advance() has finished. */
  onError?: (err: unknown) => void;
}

export class TimerWheel {
  readonly tickMs: number;
  private readonly slots: (Entry | null)[];
  private readonly nslots: number;
  private readonly onError?: (err: unknown) => void;
  /** Wheel time: the last advance() target, or the due time of the timer being fired. */
  private _now: number;
  /** Next tick to examine (its slot may still hold entries due later in that tick). */
  private curTick: number;
  private seq = 0;
  private _size = 0;
  // Firing state: the batch of the tick being processed, sorted by (due, seq).
  private batch: Entry[] = [];
  private batchPos = 0;
  private firingTick = -1;
  private firingLimit = -1;
  private interval: ReturnType<typeof setInterval> | undefined;
  /** Set by start(): what drives advance() in production. */
  private driver: { clock: Clock; intervalMs: number } | undefined;

  constructor(opts: TimerWheelOptions = {}) {
    this.tickMs = opts.tickMs ?? 10;
    this.nslots = opts.slots ?? 4096;
    this.slots = new Array<Entry | null>(this.nslots).fill(null);
    this._now = opts.now ?? 0;
    this.curTick = Math.floor(this._now / this.tickMs);
    this.onError = opts.onError;
  }

  /** Wheel time in ms. Inside a timer callback this is the due time of that timer, so chained timers stay exact. */
  get now(): number {
    return this._now;
  }

  /** Timers scheduled and not yet fired or cancelled. */
  get size(): number {
    return this._size;
  }

  schedule(delayMs: number, target: TimerTarget, kind: number): TimerHandle {
    if (this.driver !== undefined && this.interval === undefined && this.firingTick < 0) {
      // The wheel slept (nothing armed) and its time stood still: catch up with the clock first.
      this.advance(this.driver.clock.now());
      this.runInterval();
    }
    // Outside a callback, count from the clock: the wheel lags it by however long the event loop
    // was busy, and a delay counted from the lagging wheel time would fire early (a Timer A
    // retransmission 8 ms after the original, seen in the lab under load). Inside a callback,
    // wheel time is the due time of the firing timer, which keeps retransmission chains exact.
    const base = this.driver !== undefined && this.firingTick < 0 ? Math.max(this._now, this.driver.clock.now()) : this._now;
    const due = base + (delayMs > 0 ? delayMs : 0);
    const tick = Math.floor(due / this.tickMs);
    const e = new Entry(due, tick, this.seq++, target, kind);
    this._size++;
    if (tick <= this.firingTick && due <= this.firingLimit) {
      // Due within the tick being fired: slot it into the batch so order by due time holds.
      e.state = BATCHED;
      const b = this.batch;
      let i = b.length;
      while (i > this.batchPos && b[i - 1]!.due > due) i--;
      b.splice(i, 0, e);
    } else {
      this.link(e);
    }
    return e;
  }

  cancel(handle: TimerHandle | undefined | null): void {
    if (!handle) return;
    const e = handle as Entry;
    if (e.state === DONE) return;
    if (e.state === LINKED) this.unlink(e);
    e.state = DONE;
    e.target = null;
    this._size--;
  }

  /** Fire every timer due at or before `now`, in due-time order (ties: scheduling order). */
  advance(now: number): void {
    if (now < this._now || this.firingTick >= 0) return; // time is monotonic; no re-entry
    const endTick = Math.floor(now / this.tickMs);
    let firstErr: unknown;
    let failed = false;
    let t = this.curTick;
    let emptyRun = 0;
    while (t <= endTick && this._size > 0) {
      const head = this.slots[t % this.nslots];
      if (head === null) {
        // A long jump over an empty stretch: after one empty revolution, jump to the earliest entry.
        if (++emptyRun >= this.nslots) {
          t = Math.max(t + 1, this.minTick());
          emptyRun = 0;
        } else t++;
        continue;
      }
      emptyRun = 0;
      // Collect what is due in tick t.
      const b = this.batch;
      for (let e: Entry | null = head; e !== null; ) {
        const next: Entry | null = e.next;
        if (e.tick <= t && e.due <= now) {
          this.unlink(e);
          e.state = BATCHED;
          b.push(e);
        }
        e = next;
      }
      if (b.length > 0) {
        if (b.length > 1) b.sort(byDue);
        this.firingTick = t;
        this.firingLimit = now;
        while (this.batchPos < b.length) {
          const e = b[this.batchPos++]!;
          if (e.state !== BATCHED) continue; // cancelled while waiting
          const target = e.target!;
          e.state = DONE;
          e.target = null;
          this._size--;
          this._now = e.due;
          try {
            target.onTimer(e.kind);
          } catch (err) {
            if (this.onError) this.onError(err);
            else if (!failed) {
              failed = true;
              firstErr = err;
            }
          }
        }
        b.length = 0;
        this.batchPos = 0;
        this.firingTick = -1;
        this.firingLimit = -1;
      }
      t++;
    }
    this._now = now;
    this.curTick = endTick;
    if (failed) throw firstErr;
  }

  /**
   * Production driver: advance from one interval timer, which runs only while timers are armed
   * (an idle node does not wake up 100 times a second for nothing; schedule() restarts it).
   */
  start(clock: Clock, intervalMs: number = this.tickMs): void {
    this.stop();
    this.driver = { clock, intervalMs };
    if (this._size > 0) this.runInterval(); // due timers fire from the interval, not inside start()
    else this.advance(clock.now()); // nothing armed: only bring wheel time up to the clock
  }

  stop(): void {
    this.driver = undefined;
    this.stopInterval();
  }

  /** Whether the production interval is running (tests). */
  get driven(): boolean {
    return this.interval !== undefined;
  }

  private runInterval(): void {
    this.interval = setInterval(() => this.drive(), this.driver!.intervalMs);
    this.interval.unref?.();
  }

  private stopInterval(): void {
    if (this.interval !== undefined) clearInterval(this.interval);
    this.interval = undefined;
  }

  private drive(): void {
    const d = this.driver;
    if (d === undefined) return;
    try {
      this.advance(d.clock.now());
    } finally {
      if (this._size === 0) this.stopInterval();
    }
  }

  private link(e: Entry): void {
    const i = e.tick % this.nslots;
    const head = this.slots[i] ?? null;
    e.next = head;
    e.prev = null;
    if (head !== null) head.prev = e;
    this.slots[i] = e;
    e.state = LINKED;
  }

  private unlink(e: Entry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.slots[e.tick % this.nslots] = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    e.prev = e.next = null;
  }

  private minTick(): number {
    let min = Infinity;
    for (const head of this.slots) {
      for (let e = head; e !== null; e = e.next) if (e.tick < min) min = e.tick;
    }
    return min;
  }
}

function byDue(a: Entry, b: Entry): number {
  return a.due - b.due || a.seq - b.seq;
}
