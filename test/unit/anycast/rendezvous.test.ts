import test from 'ava';
import { keyHash, ownerOf } from '../../../src/anycast/rendezvous.js';
import { ViewHistory } from '../../../src/anycast/views.js';

const keys = Array.from({ length: 6000 }, (_, i) => `${i}-a84f0c@host.example`);

test('every node computes the same owner, whatever the order of the up-set', (t) => {
  for (const k of keys.slice(0, 200)) t.is(ownerOf(k, [1, 2, 3, 4]), ownerOf(k, [4, 3, 2, 1]));
  t.is(ownerOf('x', []), 0);
});

test('keys spread evenly over the nodes', (t) => {
  const counts = new Map<number, number>();
  for (const k of keys) counts.set(ownerOf(k, [1, 2, 3, 4, 5]), (counts.get(ownerOf(k, [1, 2, 3, 4, 5])) ?? 0) + 1);
  t.is(counts.size, 5);
  for (const n of counts.values()) t.true(n > 1000 && n < 1400, `share ${n} of 6000`);
});

test('a node joining takes about 1/N of the keys, all from others to itself; leaving gives back only its own', (t) => {
  let moved = 0;
  for (const k of keys) {
    const before = ownerOf(k, [1, 2, 3]);
    const after = ownerOf(k, [1, 2, 3, 4]);
    if (before !== after) {
      moved++;
      t.is(after, 4);
    }
  }
  t.true(moved > 1200 && moved < 1800, `moved ${moved}`);
  for (const k of keys) {
    const before = ownerOf(k, [1, 2, 3]);
    if (before !== 2) t.is(ownerOf(k, [1, 3]), before);
  }
});

test('the view history answers with the owners of replaced views until their grace ends', (t) => {
  const v = new ViewHistory([1, 2], 1000);
  const key = keys.find((k) => ownerOf(k, [1, 2]) === 2 && ownerOf(k, [1, 2, 3]) === 3)!;
  const h = keyHash(key);
  t.deepEqual(v.previousOwners(h, 0, 3, []), []);
  v.update([1, 2], 10); // same set: not a change
  t.false(v.inGrace);
  v.update([1, 2, 3], 100);
  t.deepEqual(v.previousOwners(h, 500, 3, []), [2]);
  t.deepEqual(v.previousOwners(h, 500, 2, []), [], 'the current owner is excluded');
  t.deepEqual(v.previousOwners(h, 1100, 3, []), [], 'grace over');
});

test('no grace period: no history', (t) => {
  const v = new ViewHistory([1, 2], 0);
  v.update([1, 2, 3], 100);
  t.false(v.inGrace);
});

test('the view history keeps distinct sets only, and merges what a peer exports', (t) => {
  const v = new ViewHistory([1, 2, 3], 1000);
  v.update([1, 2], 10);
  v.update([1, 2, 3], 20);
  v.update([1, 2], 30);
  v.update([1, 2, 3], 40);
  t.deepEqual(v.export(50).map((x) => x.up), [[1, 2]], 'flapping leaves one entry, never the current set');
  const fresh = new ViewHistory([1, 2, 3], 1000);
  fresh.adopt(v.export(50), 50);
  fresh.adopt([{ up: [3, 1], until: 500 }, { up: [9], until: 10 }], 50);
  t.deepEqual(fresh.export(60).map((x) => x.up), [[1, 2], [1, 3]]);
});
