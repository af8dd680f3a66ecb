// src/core/log.ts is owned with src/admin (operations); its tests live here.
import test from 'ava';
import { PassThrough } from 'node:stream';
import { createLogger, silentLogger } from '../../../src/core/log.js';

test('createLogger writes one JSON object per line with node_id, honouring the level', (t) => {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (d) => chunks.push(d.toString()));
  const log = createLogger({ name: 'anysip', level: 'info', nodeId: 4, stream: out });
  log.debug('hidden');
  log.info({ call_id: 'abc' }, 'hello');
  const lines = chunks.join('').trim().split('\n');
  t.is(lines.length, 1);
  const rec = JSON.parse(lines[0]!);
  t.like(rec, { name: 'anysip', node_id: 4, msg: 'hello', call_id: 'abc', level: 30 });
});

test('createLogger refuses an unknown level', (t) => {
  t.throws(() => createLogger({ name: 'x', level: 'verbose' }), { message: /unknown log level "verbose"/ });
});

test('silentLogger accepts calls and logs nothing', (t) => {
  const log = silentLogger();
  t.false(log.fatal());
  t.notThrows(() => log.error(new Error('x'), 'y'));
  t.false(log.child({ a: 1 }).error());
});
