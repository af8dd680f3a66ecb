import test from 'ava';
import { Promises } from '../../../src/anycast/promises.js';

const clock = { t: 1000, now(): number { return this.t; } };
const alive = (states: Record<number, boolean>) => (n: number) => states[n] ?? false;

test('a promise routes copies to its target while the target lives, until it expires', (t) => {
  const p = new Promises(clock, () => 1000);
  p.add('k', 3);
  t.is(p.target('k', alive({ 3: true })), 3);
  t.is(p.target('k', alive({ 3: false })), 0, 'a dead target takes nothing');
  t.is(p.target('k', alive({ 3: false }), true), 3, 'anyState: a forwarded copy still must not start here');
  clock.t += 1000;
  t.is(p.target('k', alive({ 3: true })), 0, 'expired');
});

test('a target that went down since the promise gets nothing, even once it is back (a restarted node lost the transaction)', (t) => {
  const p = new Promises(clock, () => 10_000);
  p.add('old', 3);
  p.nodeDown(3);
  t.is(p.target('old', alive({ 3: true })), 0);
  t.is(p.target('old', alive({ 3: true }), true), 3, 'anyState still names it');
  p.add('new', 3);
  t.is(p.target('new', alive({ 3: true })), 3, 'a promise made after it came back holds');
  p.nodeDown(4);
  t.is(p.target('new', alive({ 3: true })), 3, 'another node going down changes nothing');
});
