import test from 'ava';
import type { Binding } from '../../../src/location/binding.js';
import { LocationService } from '../../../src/location/location.js';
import { EMPTY_PATH, ownString, sharedString, storedBinding } from '../../../src/location/stored.js';
import { binding } from './fixtures.js';

const full: Binding = binding();

test('a stored binding has the same content as the one written, with or without its optional fields', (t) => {
  t.deepEqual(storedBinding(full), full);
  const bare: Binding = { ...full, qText: '', q: 1, path: [], source: { transport: 'udp', address: '198.51.100.7', port: 5060, node: 0 } };
  delete bare.userAgent;
  delete bare.instance;
  delete bare.regId;
  t.deepEqual(storedBinding(bare), bare);
});

test('what the table holds is the compact copy: one shared empty Path, one User-Agent string', (t) => {
  const l = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, 1, { now: () => 1_000_000 });
  l.put({ ...full, path: [] });
  l.put({ ...full, contact: 'sip:alice@192.0.2.2', path: [] });
  const [a, b] = l.lookup(full.aor);
  t.is(a!.path, EMPTY_PATH);
  t.is(b!.path, EMPTY_PATH);
  t.true(Object.isFrozen(EMPTY_PATH));
  t.is(sharedString('phone/' + String(1)), sharedString('phone/1'));
});

test('a string that would not survive the copy (a lone surrogate) is kept as it is', (t) => {
  const odd = 'sip:\ud800x@example.com';
  t.is(ownString(odd), odd);
  t.is(ownString('sip:bob@example.com;ü'), 'sip:bob@example.com;ü');
});
