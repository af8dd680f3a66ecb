import test from 'ava';
import { TimerWheel, type TimerTarget } from '../../../src/tm/timer-wheel.js';

class Rec implements TimerTarget {
  fired: Array<[string, number, number]> = [];
  constructor(
    readonly name: string,
    readonly wheel: TimerWheel,
    readonly log: Array<[string, number, number]>,
    readonly onFire?: (kind: number) => void,
  ) {}
  onTimer(kind: number): void {
    this.log.push([this.name, kind, this.wheel.now]);
    this.onFire?.(kind);
  }
}

test('fires in due-time order, not scheduling order, and only when due', (t) => {
  const w = new TimerWheel({ tickMs: 10 });
  const log: Array<[string, number, number]> = [];
  const a = new Rec('a', w, log);
  const b = new Rec('b', w, log);
  w.schedule(35, a, 1);
  w.schedule(12, b, 2);
  w.schedule(15, a, 3);
  w.schedule(12, a, 4); // same due as b's: scheduling order breaks the tie
  t.is(w.size, 4);
  w.advance(11);
  t.deepEqual(log, []);
  w.advance(14);
  t.deepEqual(log, [['b', 2, 12], ['a', 4, 12]]);
  w.advance(1000);
  t.deepEqual(log.map((l) => l[1]), [2, 4, 3, 1]);
  t.is(w.size, 0);
});

test('timers due within the same tick fire sorted by exact due time', (t) => {
  const w = new TimerWheel({ tickMs: 100 });
  const log: Array<[string, number, number]> = [];
  const r = new Rec('r', w, log);
  w.schedule(90, r, 1);
  w.schedule(10, r, 2);
  w.schedule(50, r, 3);
  w.advance(99);
  t.deepEqual(log.map((l) => l[2]), [10, 50, 90]);
});

test('cancel prevents firing, also for a timer cancelled by an earlier callback of the same batch', (t) => {
  const w = new TimerWheel({ tickMs: 10 });
  const log: Array<[string, number, number]> = [];
  const victim = new Rec('victim', w, log);
  const h1 = w.schedule(100, victim, 1);
  const h2 = w.schedule(55, victim, 2);
  const killer = new Rec('killer', w, log, () => w.cancel(h2));
  w.schedule(51, killer, 3);
  w.cancel(h1);
  w.cancel(h1); // twice is harmless
  t.is(w.size, 2);
  w.advance(200);
  t.deepEqual(log.map((l) => l[0]), ['killer']);
  t.is(w.size, 0);
});

test('long delays beyond one wheel revolution fire on time, not a revolution early', (t) => {
  const w = new TimerWheel({ tickMs: 10, slots: 8 }); // 80 ms per revolution
  const log: Array<[string, number, number]> = [];
  const r = new Rec('r', w, log);
  w.schedule(1000, r, 1);
  w.schedule(85, r, 2);
  for (let now = 0; now < 999; now += 7) w.advance(now);
  t.deepEqual(log.map((l) => l[1]), [2]);
  w.advance(1000);
  t.deepEqual(log.map((l) => l[1]), [2, 1]);
  t.is(log[1]![2], 1000);
});

test('a big jump over many revolutions fires everything in order', (t) => {
  const w = new TimerWheel({ tickMs: 10, slots: 16 });
  const log: Array<[string, number, number]> = [];
  const r = new Rec('r', w, log);
  w.schedule(180_000, r, 3);
  w.schedule(50_000, r, 2);
  w.schedule(5, r, 1);
  w.advance(1_000_000);
  t.deepEqual(log.map((l) => [l[1], l[2]]), [[1, 5], [2, 50_000], [3, 180_000]]);
});

test('timers scheduled by callbacks that are already due fire in the same advance, in order', (t) => {
  const w = new TimerWheel({ tickMs: 10 });
  const log: Array<[string, number, number]> = [];
  // A retransmission chain: each firing schedules the next at double the interval.
  let interval = 500;
  const chain: Rec = new Rec('chain', w, log, () => {
    interval *= 2;
    w.schedule(interval, chain, 0);
  });
  w.schedule(interval, chain, 0);
  const other = new Rec('other', w, log);
  w.schedule(2000, other, 9);
  // One callback schedules a zero-delay timer: it fires right after, before later timers.
  const zero = new Rec('zero', w, log);
  const spawner = new Rec('spawner', w, log, () => w.schedule(0, zero, 7));
  w.schedule(1500, spawner, 5);
  w.advance(8000);
  // Ties at 1500 go by scheduling order: spawner was scheduled before the chain's second link.
  t.deepEqual(
    log.map((l) => `${l[0]}@${l[2]}`),
    ['chain@500', 'spawner@1500', 'chain@1500', 'zero@1500', 'other@2000', 'chain@3500', 'chain@7500'],
  );
  t.is(w.size, 1); // the chain's next at 15500
  t.is(w.now, 8000);
});

test('a timer scheduled during firing but due later in the current tick waits for its time', (t) => {
  const w = new TimerWheel({ tickMs: 100 });
  const log: Array<[string, number, number]> = [];
  const late = new Rec('late', w, log);
  const first = new Rec('first', w, log, () => w.schedule(40, late, 2)); // due 50, advance target 30
  w.schedule(10, first, 1);
  w.advance(30);
  t.deepEqual(log.map((l) => l[0]), ['first']);
  w.advance(49);
  t.is(log.length, 1);
  w.advance(50);
  t.deepEqual(log.map((l) => l[0]), ['first', 'late']);
});

test('an exception in one target does not stop the others and is rethrown after', (t) => {
  const w = new TimerWheel({ tickMs: 10 });
  const log: Array<[string, number, number]> = [];
  const bad = new Rec('bad', w, log, () => {
    throw new Error('boom');
  });
  const good = new Rec('good', w, log);
  w.schedule(10, bad, 1);
  w.schedule(20, good, 2);
  t.throws(() => w.advance(100), { message: 'boom' });
  t.deepEqual(log.map((l) => l[0]), ['bad', 'good']);
  t.is(w.size, 0);
});

test('time does not go backwards', (t) => {
  const w = new TimerWheel({ tickMs: 10, now: 1000 });
  const log: Array<[string, number, number]> = [];
  w.schedule(10, new Rec('r', w, log), 1);
  w.advance(500);
  t.is(w.now, 1000);
  w.advance(1010);
  t.is(log.length, 1);
});

test('start/stop drive advance from an interval', async (t) => {
  let now = 0;
  const w = new TimerWheel({ tickMs: 1 });
  const log: Array<[string, number, number]> = [];
  w.schedule(5, new Rec('r', w, log), 1);
  now = 10; // the clock is already past due: the first interval tick fires it
  w.start({ now: () => now }, 1);
  await new Promise((r) => setTimeout(r, 20));
  w.stop();
  t.is(log.length, 1);
});

test('the production interval runs only while timers are armed, and wheel time catches up after a sleep', async (t) => {
  let now = 1000;
  const w = new TimerWheel({ tickMs: 1, now });
  const log: Array<[string, number, number]> = [];
  w.start({ now: () => now }, 1);
  t.false(w.driven, 'an empty wheel does not wake up');
  w.schedule(5, new Rec('a', w, log), 1);
  t.true(w.driven, 'scheduling starts the interval');
  now = 1010;
  await new Promise((r) => setTimeout(r, 20));
  t.is(log.length, 1);
  t.false(w.driven, 'the interval stops once nothing is armed');
  // Idle for a long time: a timer scheduled now is due from now, not from when the wheel fell asleep.
  now = 500_000;
  const h = w.schedule(100, new Rec('b', w, log), 2);
  t.is(h.due, 500_100);
  await new Promise((r) => setTimeout(r, 20));
  t.is(log.length, 1, 'not fired early');
  now = 500_100;
  await new Promise((r) => setTimeout(r, 20));
  t.is(log.length, 2);
  w.stop();
  t.false(w.driven);
});

test('a busy event loop does not make timers fire early: a delay counts from the clock, not the lagging wheel time', async (t) => {
  let now = 1000;
  const w = new TimerWheel({ tickMs: 10, now });
  const log: Array<[string, number, number]> = [];
  w.start({ now: () => now }, 5);
  w.schedule(10_000, new Rec('keep', w, log), 1); // keeps the interval running
  await new Promise((r) => setTimeout(r, 15));
  // The loop is blocked for 600 ms: the clock moves, the interval does not run, wheel time stays behind.
  now += 600;
  const h = w.schedule(500, new Rec('a', w, log), 2);
  t.is(h.due, now + 500, 'due 500 ms after now by the clock');
  now += 10;
  await new Promise((r) => setTimeout(r, 20));
  t.is(log.length, 0, 'not fired 10 ms after it was scheduled');
  now += 490;
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(log.map((e) => e[0]), ['a']);
  w.stop();
});
