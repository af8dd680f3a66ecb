// One clock for the whole node. Production uses wall time; the simulator
// (test/sim) substitutes a virtual clock it advances itself.

export interface Clock {
  /** Milliseconds, monotonic within a run. */
  now(): number;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
};
