import test from 'ava';
import { REPLAY_WINDOW, ReplayWindow } from '../../../src/bin-proto/replay.js';

test('each sequence number is accepted once', (t) => {
  const w = new ReplayWindow();
  for (let s = 1; s <= 100; s++) t.true(w.accept(s));
  for (let s = 1; s <= 100; s++) t.false(w.accept(s), `replayed ${s}`);
  t.is(w.highest, 100);
});

test('out of order within the window is fine, once', (t) => {
  const w = new ReplayWindow();
  t.true(w.accept(10));
  t.true(w.accept(5));
  t.true(w.accept(7));
  t.false(w.accept(5));
  t.true(w.accept(6));
  t.true(w.accept(REPLAY_WINDOW + 9));
  t.true(w.accept(11), 'still inside the window');
  t.false(w.accept(9), 'fell out of the window behind the highest');
});

test('a jump further than the window forgets everything behind it', (t) => {
  const w = new ReplayWindow();
  t.true(w.accept(1));
  t.true(w.accept(3 * REPLAY_WINDOW));
  t.false(w.accept(1));
  t.true(w.accept(3 * REPLAY_WINDOW - 1));
  t.false(w.accept(3 * REPLAY_WINDOW));
});

test('bits reused across the ring are cleared when the window slides', (t) => {
  const w = new ReplayWindow();
  t.true(w.accept(5));
  t.true(w.accept(5 + REPLAY_WINDOW - 1));
  t.true(w.accept(5 + REPLAY_WINDOW + 1)); // slides past 5 + WINDOW, which shares 5's bit
  t.true(w.accept(5 + REPLAY_WINDOW), 'same ring slot as 5, but a new number');
  t.false(w.accept(5 + REPLAY_WINDOW));
});
