// Every response a node makes itself carries a To tag (RFC 3261 8.2.6.2), the
// same one for the same request on any node of the cluster.

import test from 'ava';
import { startRig, sipRequest, NODE_ADDRESS, NODE_PORT, type Rig } from './rig.js';
import type { SipMessage } from '../../../src/sip/message.js';

function finalOf(sent: SipMessage[]): SipMessage {
  const res = sent.find((m) => !m.isRequest && m.status >= 200);
  if (!res) throw new Error(`no final response in ${sent.map((m) => m.startLine()).join(' | ')}`);
  return res;
}

async function withRig(fn: (r: Rig) => Promise<void> | void, secret?: string): Promise<void> {
  const rig = await startRig('', secret);
  try {
    await fn(rig);
  } finally {
    await rig.stop();
  }
}

const ME = `sip:${NODE_ADDRESS}:${NODE_PORT}`;

const cases: Array<[string, string, number]> = [
  ['200 to OPTIONS', sipRequest('OPTIONS', ME), 200],
  ['200 to REGISTER', sipRequest('REGISTER', 'sip:example.com', { To: '<sip:bob@example.com>' }, ['Contact: <sip:bob@192.0.2.10:5062>']), 200],
  ['404 for a user nobody registered', sipRequest('INVITE', 'sip:nobody@example.com'), 404],
  ['483 for Max-Forwards 0', sipRequest('INVITE', 'sip:bob@example.com', { 'Max-Forwards': '0' }), 483],
  ['420 for an unsupported Proxy-Require', sipRequest('INVITE', 'sip:bob@example.com', { 'Proxy-Require': 'x-nope' }), 420],
  ['400 for a CSeq method mismatch', sipRequest('INVITE', 'sip:bob@example.com', { CSeq: '1 BYE' }), 400],
  ['400 for a missing Call-ID', sipRequest('INVITE', 'sip:bob@example.com', { 'Call-ID': null }), 400],
];

for (const [name, request, status] of cases) {
  test(`${name} carries a To tag`, async (t) => {
    await withRig((rig) => {
      const res = finalOf(rig.receive(request));
      t.is(res.status, status, res.startLine());
      t.regex(res.toTag ?? '', /^[0-9a-f]{16}$/, `To: ${res.get('to')}`);
    });
  });
}

test('482 for a request that comes back unchanged carries a To tag', async (t) => {
  await withRig((rig) => {
    // The route for "loop..." points at the node itself: what it forwards comes straight back.
    const forwarded = rig.receive(sipRequest('INVITE', 'sip:loop1@example.com')).find((m) => m.isRequest && m.method === 'INVITE');
    t.truthy(forwarded, 'the INVITE was forwarded');
    const res = finalOf(rig.receive(forwarded!.serialize()));
    t.is(res.status, 482);
    t.regex(res.toTag ?? '', /^[0-9a-f]{16}$/);
  });
});

test('a request that already has a To tag keeps it', async (t) => {
  await withRig((rig) => {
    const res = finalOf(rig.receive(sipRequest('BYE', ME, { To: '<sip:bob@example.com>;tag=theirs' })));
    t.is(res.status, 404);
    t.is(res.toTag, 'theirs');
  });
});

test('100 Trying has no To tag (8.2.6.2 makes it optional; the final one carries ours)', async (t) => {
  await withRig((rig) => {
    const trying = rig.receive(sipRequest('INVITE', 'sip:nobody@example.com')).find((m) => !m.isRequest && m.status === 100);
    t.truthy(trying);
    t.is(trying!.toTag, undefined);
  });
});

test('the same request gets the same tag on another node of the cluster; another request another tag', async (t) => {
  const request = sipRequest('OPTIONS', ME);
  let first = '';
  let other = '';
  await withRig((rig) => {
    first = finalOf(rig.receive(request)).toTag ?? '';
    other = finalOf(rig.receive(sipRequest('OPTIONS', ME, { 'Call-ID': 'rig-call-2', Via: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-rig-2' }))).toTag ?? '';
  });
  let again = '';
  await withRig((rig) => {
    again = finalOf(rig.receive(request)).toTag ?? '';
  });
  t.truthy(first);
  t.is(again, first, 'a second node with the same secret answers with the same tag');
  t.not(other, first);
  let foreign = '';
  await withRig((rig) => {
    foreign = finalOf(rig.receive(request)).toTag ?? '';
  }, 'another-cluster-secret-0123456789');
  t.not(foreign, first, 'the tag depends on the secret');
});

test('the 200 to a CANCEL carries a To tag', async (t) => {
  await withRig((rig) => {
    // "loop" targets the node itself: the forwarded INVITE stays pending (nobody answers it).
    rig.receive(sipRequest('INVITE', 'sip:loop2@example.com'));
    const sent = rig.receive(sipRequest('CANCEL', 'sip:loop2@example.com'));
    const ok = sent.find((m) => !m.isRequest && m.status === 200);
    t.truthy(ok, sent.map((m) => m.startLine()).join(' | '));
    t.regex(ok!.toTag ?? '', /^[0-9a-f]{16}$/);
  });
});
