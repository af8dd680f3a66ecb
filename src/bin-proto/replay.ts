// Anti-replay: a sliding window of sequence numbers per (source node, epoch),
// as IPsec does (RFC 4303 3.4.3). Frames may arrive out of order (a relayed
// frame overtaken by direct ones), so a window rather than "must increase".

/** Sequence numbers remembered behind the highest one seen. */
export const REPLAY_WINDOW = 8192;

export class ReplayWindow {
  private top = 0;
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32);

  /** True (and remembered) the first time `seq` is seen within the window; false for a replay or a too-old seq. */
  accept(seq: number): boolean {
    if (seq > this.top) {
      const gap = seq - this.top;
      if (gap >= REPLAY_WINDOW) this.bits.fill(0);
      else for (let s = this.top + 1; s < seq; s++) this.clear(s);
      this.top = seq;
      this.set(seq);
      return true;
    }
    if (this.top - seq >= REPLAY_WINDOW) return false;
    const i = seq % REPLAY_WINDOW;
    const word = i >>> 5;
    const bit = 1 << (i & 31);
    if (this.bits[word]! & bit) return false;
    this.bits[word]! |= bit;
    return true;
  }

  /** Highest sequence number accepted so far (0: none). */
  get highest(): number {
    return this.top;
  }

  private set(s: number): void {
    const i = s % REPLAY_WINDOW;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  private clear(s: number): void {
    const i = s % REPLAY_WINDOW;
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}
