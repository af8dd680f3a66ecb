import test from 'ava';
import { ReplicaTable } from '../../../src/replica/table.js';
import { textKind } from './harness.js';

test('without a replicator the table keeps no outbox: a single node does not hold every write it ever made', (t) => {
  const clock = { now: () => 1_000_000 };
  const table = new ReplicaTable(textKind, 1, clock);
  for (let i = 0; i < 100; i++) table.put('k', 'v' + i, 2_000_000);
  let flushes = 0;
  table.setOutboxListener(() => flushes++);
  t.deepEqual(table.takeOutbox(), [], 'nothing was kept before a replicator listened');
  table.put('k', 'w', 2_000_000);
  t.is(flushes, 1);
  t.is(table.takeOutbox().length, 1);
});
