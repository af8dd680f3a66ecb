import test from 'ava';
import { NonceCodec, NonceCounts } from '../../../src/auth/nonce.js';

const SECRET = 'nonce-test-cluster-secret-0123';

function codec(node: number, boot = 7, at = { t: 1_700_000_000_000 }) {
  return { c: new NonceCodec(SECRET, node, boot, () => at.t), at };
}

test('a nonce is accepted by its issuer until it expires; another node or a restarted issuer refuses it', (t) => {
  const { c, at } = codec(1);
  const n = c.issue(300);
  t.is(n.length, 39);
  t.deepEqual(c.check(n), { info: { issuer: 1, expiresAt: at.t + 300_000 } });
  t.like(codec(2).c.check(n), { problem: 'other_node', info: { issuer: 1 } }, 'another node reads who issued it');
  t.like(codec(1, 8).c.check(n), { problem: 'other_node' }, 'the same node after a restart (new boot id)');
  at.t += 300_000;
  t.like(c.check(n), { problem: 'expired' });
  t.not(c.issue(300), c.issue(300), 'two nonces are never the same');
});

test('a forged or altered nonce is refused', (t) => {
  const { c } = codec(1);
  const n = c.issue(300);
  const b = Buffer.from(n, 'base64url');
  b.writeUInt16BE(0xffff, 11); // a longer lifetime
  t.like(c.check(b.toString('base64url')), { problem: 'bad_mac' });
  t.like(new NonceCodec('another-cluster-secret-0123', 1, 7, () => 1_700_000_000_000).check(n), { problem: 'bad_mac' });
  t.like(c.check('abc'), { problem: 'malformed' });
  t.like(c.check(n.slice(0, 39) + '*'), { problem: 'malformed' });
});

test('each nc of a nonce is taken once; out of order within the window is fine; far behind or replayed is not', (t) => {
  const counts = new NonceCounts(100);
  t.true(counts.use('n1', 1, 10_000, 0));
  t.false(counts.use('n1', 1, 10_000, 0), 'replay');
  t.true(counts.use('n1', 3, 10_000, 0));
  t.true(counts.use('n1', 2, 10_000, 0), 'an earlier nc that came late');
  t.false(counts.use('n1', 3, 10_000, 0));
  t.true(counts.use('n1', 200, 10_000, 0), 'a jump ahead slides the window');
  t.false(counts.use('n1', 100, 10_000, 0), 'behind the window now');
  t.true(counts.use('n1', 199, 10_000, 0));
  t.true(counts.use('n2', 1, 10_000, 0), 'another nonce has its own counts');
});

test('bounded: the oldest nonces go first, and a forgotten nonce that is still live is refused, never accepted again', (t) => {
  const counts = new NonceCounts(3);
  for (let i = 1; i <= 3; i++) t.true(counts.use(`n${i}`, 1, 1000 + i, 0));
  t.true(counts.use('n4', 1, 1004, 0));
  t.is(counts.size, 3);
  t.false(counts.use('n1', 1, 1001, 0), 'n1 was forgotten: its replay is refused');
  t.false(counts.use('n1', 2, 1001, 0), 'and so is any use of it');
  t.true(counts.use('n5', 1, 1005, 2000), 'expired ones are swept');
  t.is(counts.size, 1);
});
