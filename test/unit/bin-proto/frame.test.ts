import test from 'ava';
import { createHmac } from 'node:crypto';
import {
  DEFAULT_MAX_FRAME_SIZE,
  FrameReader,
  LENGTH_SIZE,
  MAC_SIZE,
  deriveKey,
  encodeBusFrame,
  encodeFrame,
  verifyFrame,
} from '../../../src/bin-proto/frame.js';
import { pb } from '../../../src/bin-proto/proto.js';

const key = deriveKey('frame-test-secret-0123456789');
const frame = (over: Partial<Parameters<typeof encodeBusFrame>[1]> = {}) =>
  encodeBusFrame(key, { capability: 'anycast', type: 7, src: 3, dst: 5, seq: 42, epoch: 1_700_000_000_000_123, hops: 0, payload: Buffer.from('hello'), ...over });

test('a signed frame verifies and decodes every envelope field', (t) => {
  const buf = frame();
  t.is(buf.readUInt32BE(0), buf.length - LENGTH_SIZE, 'length prefix counts envelope + MAC');
  const v = verifyFrame(key, buf);
  if (!v.ok) return t.fail(v.reason);
  t.like(v.frame, { version: 1, capability: 'anycast', type: 7, src: 3, dst: 5, seq: 42, epoch: 1_700_000_000_000_123, hops: 0 });
  t.is(Buffer.from(v.frame.payload).toString(), 'hello');
});

test('the MAC is HMAC-SHA256 over length prefix and envelope, with the derived key', (t) => {
  const buf = frame();
  const mac = createHmac('sha256', key).update(buf.subarray(0, buf.length - MAC_SIZE)).digest();
  t.deepEqual(buf.subarray(buf.length - MAC_SIZE), mac);
  t.notDeepEqual(key, Buffer.from('frame-test-secret-0123456789'), 'key is derived, not the raw secret');
});

test('wrong key, flipped bits, and a flipped length are dropped with their reason', (t) => {
  t.like(verifyFrame(deriveKey('another-secret-0123456789'), frame()), { ok: false, reason: 'bad_mac' });
  for (const i of [0, 3, 4, 10, frame().length - 1]) {
    const buf = frame();
    buf[i]! ^= 0x01;
    const v = verifyFrame(key, buf);
    t.false(v.ok, `bit flip at ${i}`);
    if (!v.ok) t.true(v.reason === 'bad_mac' || v.reason === 'truncated', `byte ${i}: ${v.reason}`);
  }
});

test('too short for a MAC, and a length prefix that disagrees, count as truncated', (t) => {
  const tiny = Buffer.alloc(LENGTH_SIZE + 10);
  tiny.writeUInt32BE(10, 0);
  t.like(verifyFrame(key, tiny), { ok: false, reason: 'truncated' });
  t.like(verifyFrame(key, frame().subarray(0, 30)), { ok: false, reason: 'truncated' });
});

test('unknown version, unknown capability, bad ids, too many hops: dropped after the MAC passes', (t) => {
  const base = { capability: 2, type: 1, src: 3, dst: 0, seq: 1, epoch: 9, hops: 0, version: 1 };
  t.like(verifyFrame(key, encodeFrame(key, { ...base, version: 2 })), { ok: false, reason: 'bad_version' });
  t.like(verifyFrame(key, encodeFrame(key, { ...base, version: 0 })), { ok: false, reason: 'bad_version' });
  t.like(verifyFrame(key, encodeFrame(key, { ...base, capability: 99 })), { ok: false, reason: 'unknown_capability' });
  t.like(verifyFrame(key, encodeFrame(key, { ...base, src: 0 })), { ok: false, reason: 'malformed' });
  t.like(verifyFrame(key, encodeFrame(key, { ...base, src: 70000 })), { ok: false, reason: 'malformed' });
  t.like(verifyFrame(key, encodeFrame(key, { ...base, seq: 0 })), { ok: false, reason: 'malformed' });
  t.like(verifyFrame(key, encodeFrame(key, { ...base, hops: 2 })), { ok: false, reason: 'bad_hops' });
  t.true(verifyFrame(key, encodeFrame(key, base)).ok);
});

test('signed garbage that is not protobuf is malformed, not an exception', (t) => {
  const body = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // field 1, length-delimited, absurd length
  const buf = Buffer.alloc(LENGTH_SIZE + body.length + MAC_SIZE);
  buf.writeUInt32BE(body.length + MAC_SIZE, 0);
  body.copy(buf, LENGTH_SIZE);
  createHmac('sha256', key).update(buf.subarray(0, LENGTH_SIZE + body.length)).digest().copy(buf, LENGTH_SIZE + body.length);
  t.like(verifyFrame(key, buf), { ok: false, reason: 'malformed' });
});

test('FrameReader: frames split at every byte boundary and glued together come out whole', (t) => {
  const frames = [frame({ seq: 1 }), frame({ seq: 2, payload: Buffer.alloc(3000, 7) }), frame({ seq: 3 })];
  const all = Buffer.concat(frames);
  for (const step of [1, 2, 3, 5, 64, 1000, all.length]) {
    const out: Buffer[] = [];
    const r = new FrameReader(DEFAULT_MAX_FRAME_SIZE, (f) => out.push(Buffer.from(f)));
    for (let i = 0; i < all.length; i += step) t.true(r.push(all.subarray(i, i + step)));
    t.is(out.length, 3, `step ${step}`);
    t.deepEqual(out, frames);
    t.is(r.pending, 0);
  }
});

test('FrameReader: an oversized length prefix kills the reader (the connection must close)', (t) => {
  const out: Buffer[] = [];
  const r = new FrameReader(1024, (f) => out.push(f));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(1025, 0);
  t.true(r.push(frame({ seq: 1 })));
  t.false(r.push(Buffer.concat([head, Buffer.alloc(10)])));
  t.false(r.push(frame({ seq: 2 })), 'stays dead: a length prefix cannot be resynchronised');
  t.is(out.length, 1);
  // Split across chunks too.
  const r2 = new FrameReader(1024, () => t.fail('no frame'));
  t.true(r2.push(head.subarray(0, 2)));
  t.false(r2.push(head.subarray(2)));
});

test('FrameReader: a partial frame is reported as pending (truncated at close)', (t) => {
  const r = new FrameReader(DEFAULT_MAX_FRAME_SIZE, () => t.fail('incomplete'));
  const f = frame();
  r.push(f.subarray(0, f.length - 1));
  t.is(r.pending, f.length - 1);
});

test('generated code: heartbeat round trip keeps 64-bit epochs exactly', (t) => {
  const epoch = 1_763_000_000_000_999;
  const bytes = pb.Heartbeat.encode({ state: 2, view: 12, sentAt: 123.5, members: [{ id: 4, state: 5, epoch, linked: true }] }).finish();
  const hb = pb.Heartbeat.decode(bytes);
  t.is(hb.state, 2);
  t.is(hb.sentAt, 123.5);
  t.is(Number(hb.members[0]!.epoch), epoch);
  t.true(hb.members[0]!.linked);
});
