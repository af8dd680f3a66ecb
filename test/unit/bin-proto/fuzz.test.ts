// Fuzz: 100,000+ mutated frames through the stream reader, the verifier and the
// payload decoders. Nothing may throw; every frame must end as a frame or a drop.
// Seeded, so a failure replays: FUZZ_SEED=<n> npx ava test/unit/bin-proto/fuzz.test.ts

import test from 'ava';
import { createHmac } from 'node:crypto';
import { FrameReader, LENGTH_SIZE, MAC_SIZE, deriveKey, encodeBusFrame, verifyFrame } from '../../../src/bin-proto/frame.js';
import { pb } from '../../../src/bin-proto/proto.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const FRAMES = 120_000;
const key = deriveKey('fuzz-secret-0123456789abcdef');

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = mulberry32(SEED);
const int = (n: number) => Math.floor(rand() * n);

function seedFrames(): Buffer[] {
  const hello = pb.Hello.encode({ nodeId: 2, name: 'n2', epoch: 1_763_000_000_000_001, cluster: 'c', busAddress: '127.0.0.2', busPort: 7060 }).finish();
  const hb = pb.Heartbeat.encode({
    state: 2,
    view: 9,
    sentAt: 1234.5,
    echoSentAt: 1000.25,
    echoDelay: 3,
    members: [{ id: 1, state: 2, epoch: 5, name: 'n1', busAddress: '127.0.0.1', busPort: 7060, linked: true }, { id: 3, state: 5 }],
  }).finish();
  const inUse = pb.IdInUse.encode({ nodeId: 2, holderName: 'old', holderEpoch: 77, reason: 'x' }).finish();
  const base = { src: 2, dst: 1, seq: 10, epoch: 1_763_000_000_000_001, hops: 0 };
  return [
    encodeBusFrame(key, { ...base, capability: 'membership', type: 1, payload: hello }),
    encodeBusFrame(key, { ...base, capability: 'membership', type: 2, payload: hb }),
    encodeBusFrame(key, { ...base, capability: 'membership', type: 3, payload: inUse }),
    encodeBusFrame(key, { ...base, capability: 'anycast', type: 1, hops: 1, payload: Buffer.alloc(200, 0x41) }),
  ];
}

function mutate(src: Buffer): Buffer {
  let b = Buffer.from(src);
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    switch (int(7)) {
      case 0: // flip a bit
        if (b.length) b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1: // random byte
        if (b.length) b[int(b.length)] = int(256);
        break;
      case 2: // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 3: // insert random bytes
        {
          const at = int(b.length + 1);
          const ins = Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256)));
          b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        }
        break;
      case 4: // delete a run
        {
          const at = int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(8))]);
        }
        break;
      case 5: // interesting varint bytes
        if (b.length > LENGTH_SIZE) b[LENGTH_SIZE + int(b.length - LENGTH_SIZE)] = [0x00, 0x7f, 0x80, 0xff][int(4)]!;
        break;
      default: // duplicate a slice
        {
          const at = int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), b.subarray(int(b.length + 1))]);
        }
    }
  }
  return b;
}

/** Fix the length prefix and the MAC after mutating, so the protobuf decoder and the field checks see the mutation. */
function resign(b: Buffer): Buffer {
  if (b.length < LENGTH_SIZE + MAC_SIZE) return b;
  b.writeUInt32BE(b.length - LENGTH_SIZE, 0);
  createHmac('sha256', key).update(b.subarray(0, b.length - MAC_SIZE)).digest().copy(b, b.length - MAC_SIZE);
  return b;
}

test(`fuzz: ${FRAMES} mutated frames (seed ${SEED}) never throw out of reader, verifier or decoders`, (t) => {
  const seeds = seedFrames();
  const reasons = new Map<string, number>();
  let accepted = 0;
  let readerDeaths = 0;
  let framesOut = 0;
  const onFrame = (f: Buffer) => {
    framesOut++;
    const v = verifyFrame(key, f);
    if (!v.ok) {
      reasons.set(v.reason, (reasons.get(v.reason) ?? 0) + 1);
      return;
    }
    accepted++;
    // What the bus and membership do next with a verified frame: decode its payload by type.
    try {
      if (v.frame.capability === 'membership') {
        if (v.frame.type === 1) pb.Hello.decode(v.frame.payload);
        else if (v.frame.type === 2) pb.Heartbeat.decode(v.frame.payload);
        else if (v.frame.type === 3) pb.IdInUse.decode(v.frame.payload);
      }
    } catch {
      reasons.set('payload_malformed', (reasons.get('payload_malformed') ?? 0) + 1); // caught by the bus the same way
    }
  };
  let reader = new FrameReader(64 * 1024, onFrame);
  const started = Date.now();
  for (let i = 0; i < FRAMES; i++) {
    let m = mutate(seeds[int(seeds.length)]!);
    if (i % 2 === 0) m = resign(m);
    // Alternate: whole frame into a fresh stream, or appended to a long-lived stream in random pieces.
    t.notThrows(() => {
      if (i % 3 === 0) {
        onFrame(m);
      } else {
        let off = 0;
        while (off < m.length) {
          const n = 1 + int(m.length - off);
          if (!reader.push(m.subarray(off, off + n))) {
            readerDeaths++;
            reader = new FrameReader(64 * 1024, onFrame); // the bus closes the connection; the peer reconnects
            break;
          }
          off += n;
        }
      }
    }, `frame ${i}: ${m.toString('hex').slice(0, 200)}`);
  }
  const ms = Date.now() - started;
  t.log(`${FRAMES} frames in ${ms} ms: ${framesOut} delimited, ${accepted} verified, ${readerDeaths} streams closed (oversized); drops ${JSON.stringify(Object.fromEntries(reasons))}`);
  t.true(framesOut > FRAMES / 3, 'most mutations still reach the verifier');
  t.true((reasons.get('bad_mac') ?? 0) > 0, 'unsigned mutations fail the MAC');
  t.true((reasons.get('malformed') ?? 0) + (reasons.get('bad_version') ?? 0) + (reasons.get('unknown_capability') ?? 0) > 0, 're-signed mutations reach the decoder checks');
  t.true(readerDeaths > 0, 'oversized length prefixes are hit');
});
