import test from 'ava';
import { BranchCodec, decodeBranch, encodeBranch, encodeStatelessBranch, MAGIC_COOKIE } from '../../../src/tm/branch.js';

const SECRET = 'cluster-secret';

test('roundtrip: owner node ID decodes with a valid MAC', (t) => {
  for (const nodeId of [1, 2, 300, 65535]) {
    const codec = new BranchCodec(SECRET, nodeId);
    const b = codec.encode();
    t.true(b.startsWith(MAGIC_COOKIE));
    t.regex(b, /^z9hG4bK\.a[A-Za-z0-9_-]{20}$/);
    t.deepEqual(codec.decode(b), { nodeId, valid: true, stateless: false });
    t.true(codec.owns(b));
    // Any node with the secret decodes the owner.
    t.deepEqual(decodeBranch(SECRET, b), { nodeId, valid: true, stateless: false });
  }
});

test('branches are unique', (t) => {
  const codec = new BranchCodec(SECRET, 7);
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(codec.encode());
  t.is(seen.size, 10_000);
});

test('another node does not own it; the owner is still read', (t) => {
  const b = encodeBranch(SECRET, 5);
  const other = new BranchCodec(SECRET, 6);
  t.false(other.owns(b));
  t.is(other.decode(b)?.nodeId, 5);
});

test('tampered MAC, tampered node ID, or another secret -> valid false', (t) => {
  const b = encodeBranch(SECRET, 42);
  const body = b.slice(9);
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const macTampered = b.slice(0, 9) + flip(body, 19);
  t.deepEqual(decodeBranch(SECRET, macTampered)?.valid, false);
  const nodeTampered = b.slice(0, 9) + flip(body, 1);
  const d = decodeBranch(SECRET, nodeTampered);
  t.truthy(d);
  t.false(d!.valid);
  t.false(new BranchCodec(SECRET, d!.nodeId === 0 ? 1 : d!.nodeId).owns(nodeTampered));
  t.false(decodeBranch('other-secret', b)!.valid);
  t.false(new BranchCodec('other-secret', 42).owns(b));
});

test('foreign and malformed branches -> null', (t) => {
  for (const b of [
    undefined,
    '',
    'z9hG4bK776asdhds', // RFC 3261 example
    'z9hG4bKcf63.2b1e5c8e1f3f8f2a6c1c1e9f7c3a1b6d.0', // Kamailio-like
    'z9hG4bKPjR3bF8vl1yVvNqZ9z', // PJSIP-like
    '1234.5678', // RFC 2543
    'z9hG4bK.a' + 'x'.repeat(19), // too short
    'z9hG4bK.a' + 'x'.repeat(21), // too long
    'z9hG4bK.q' + 'x'.repeat(20), // unknown kind
    'z9hG4bK.a' + 'x'.repeat(19) + '=', // bad char
    'Z9HG4BK.a' + 'x'.repeat(20), // case matters
  ]) {
    t.is(decodeBranch(SECRET, b), null, String(b));
  }
});

test('stateless branches are deterministic, cluster-wide, and distinct per input', (t) => {
  const n1 = new BranchCodec(SECRET, 1);
  const n2 = new BranchCodec(SECRET, 2);
  const a = n1.encodeStateless('z9hG4bKupstream1');
  t.is(a, n1.encodeStateless('z9hG4bKupstream1'));
  t.is(a, n2.encodeStateless('z9hG4bKupstream1')); // any node gives the same branch
  t.is(a, encodeStatelessBranch(SECRET, 'z9hG4bKupstream1'));
  t.not(a, n1.encodeStateless('z9hG4bKupstream2'));
  t.regex(a, /^z9hG4bK\.s[A-Za-z0-9_-]{20}$/);
  t.deepEqual(n2.decode(a), { nodeId: 0, valid: true, stateless: true });
  t.false(n1.owns(a)); // nobody owns a stateless branch
  // A node ID can be bound in when wanted.
  const bound = n1.encodeStateless('k', 9);
  t.deepEqual(n1.decode(bound), { nodeId: 9, valid: true, stateless: true });
});

test('loop segment is carried and covered by the MAC', (t) => {
  const codec = new BranchCodec(SECRET, 3);
  const b = codec.encode({ loop: 'AbCd_-12' });
  t.regex(b, /^z9hG4bK\.a[A-Za-z0-9_-]{20}\.AbCd_-12$/);
  t.deepEqual(codec.decode(b), { nodeId: 3, valid: true, stateless: false, loop: 'AbCd_-12' });
  const swapped = b.slice(0, -8) + 'AbCd_-13';
  t.false(codec.decode(swapped)!.valid);
  t.throws(() => codec.encode({ loop: 'short' }), { instanceOf: RangeError });
});

test('node ID range and secret are checked', (t) => {
  t.throws(() => new BranchCodec(SECRET, 0), { instanceOf: RangeError });
  t.throws(() => new BranchCodec(SECRET, 65536), { instanceOf: RangeError });
  t.throws(() => new BranchCodec('', 1), { instanceOf: RangeError });
  t.notThrows(() => new BranchCodec(Buffer.from([1, 2, 3]), 1));
});
