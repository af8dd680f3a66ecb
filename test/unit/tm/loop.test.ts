import test from 'ava';
import { computeLoopHash } from '../../../src/tm/loop.js';
import { BranchCodec } from '../../../src/tm/branch.js';
import { request } from './helpers.js';

test('loop hash: same request -> same hash (loop), changed R-URI or CSeq -> different (spiral)', (t) => {
  const h = computeLoopHash(request('INVITE'));
  t.regex(h, /^[A-Za-z0-9_-]{8}$/);
  t.is(computeLoopHash(request('INVITE', { branch: 'z9hG4bKotherhop', host: '10.9.9.9' })), h); // Via is not an input
  t.not(computeLoopHash(request('INVITE', { uri: 'sip:carol@example.com' })), h);
  t.not(computeLoopHash(request('INVITE', { cseq: 2 })), h);
  // Round trip through a branch, as the proxy would check it.
  const codec = new BranchCodec('s', 1);
  t.is(codec.decode(codec.encode({ loop: h }))!.loop, h);
});
