import test from 'ava';
import { decodeBinding, encodeBinding, type Binding } from '../../../src/location/binding.js';
import { bindingKey, LocationService } from '../../../src/location/location.js';
import { locationView } from '../../../src/location/view.js';
import type { Envelope } from '../../../src/transport/types.js';
import { binding } from './fixtures.js';

const clock = { now: () => 1_000_000 };


test('a binding survives its wire encoding whole', (t) => {
  const b = binding();
  t.deepEqual(decodeBinding(encodeBinding(b), b.expiresAt), b);
  const udp = binding({ source: { transport: 'udp', address: '2001:db8::1', port: 5060, socketId: 'sip', node: 0 }, path: [], qText: '', q: 1 });
  delete udp.userAgent;
  delete udp.instance;
  delete udp.regId;
  t.deepEqual(decodeBinding(encodeBinding(udp), udp.expiresAt), udp);
  const nat = binding({ source: { ...udp.source, nat: true } });
  t.deepEqual(decodeBinding(encodeBinding(nat), nat.expiresAt), nat, 'the NAT mark travels');
});

test('a binding without an AOR, a contact or a known transport is refused on decode', (t) => {
  t.throws(() => decodeBinding(encodeBinding(binding({ aor: '' }))));
  t.throws(() => decodeBinding(encodeBinding(binding({ source: { ...binding().source, transport: 'sctp' as 'udp' } }))));
  t.throws(() => decodeBinding(Buffer.from([0xff, 0xff])));
});

test('binding keys follow RFC 3261 URI equality: case of host and transport, escapes; ports and users differ', (t) => {
  const aor = 'sip:alice@example.com';
  t.is(bindingKey(aor, 'sip:alice@Phone.Example.com;transport=TCP'), bindingKey(aor, 'sip:%61lice@phone.example.com;transport=tcp;ob'));
  t.not(bindingKey(aor, 'sip:alice@192.0.2.1'), bindingKey(aor, 'sip:alice@192.0.2.1:5060'));
  t.not(bindingKey(aor, 'sip:alice@192.0.2.1'), bindingKey(aor, 'sip:bob@192.0.2.1'));
});

test('lookups are by AOR, highest q first, equal q in contact order, expired ones left out', (t) => {
  const l = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, 1, clock);
  l.put(binding({ contact: 'sip:alice@192.0.2.9', q: 1, qText: '' }));
  l.put(binding({ contact: 'sip:alice@192.0.2.2', q: 1, qText: '' }));
  l.put(binding({ contact: 'sip:alice@192.0.2.5', q: 0.5 }));
  l.put(binding({ contact: 'sip:alice@192.0.2.7', expiresAt: 1_000_000 + 10 }));
  l.put(binding({ aor: 'sip:bob@example.com', contact: 'sip:bob@192.0.2.3' }));
  t.deepEqual(
    l.lookup('sip:alice@example.com', 1_000_000 + 20).map((b) => b.contact),
    ['sip:alice@192.0.2.2', 'sip:alice@192.0.2.9', 'sip:alice@192.0.2.5'],
  );
  t.is(l.aors, 2);
  l.remove(l.lookup('sip:bob@example.com')[0]!);
  t.is(l.aors, 1);
  t.is(l.lookup('sip:bob@example.com').length, 0);
});

test('a REGISTER relayed from the node holding its connection names that node; any node reaches it through the flow map', (t) => {
  const owner = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, 2, clock);
  // Node 2 knows connection 9 of node 1 as its stand-in id 2**40 + 5.
  owner.flows = {
    holder: (cid) => (cid === 2 ** 40 + 5 ? { node: 1, connectionId: 9 } : { node: 2, connectionId: cid }),
    reach: (node, cid) => (node === 2 ? cid : 2 ** 41 + cid),
  };
  const env: Envelope = {
    transport: 'tcp',
    remote: { address: '192.0.2.1', port: 40000 },
    local: { address: '192.0.2.10', port: 5060 },
    socketId: 'sip-tcp',
    connectionId: 2 ** 40 + 5,
    receivedAt: 0,
    hops: 1,
  };
  const source = owner.sourceOf(env);
  t.deepEqual(source, { transport: 'tcp', address: '192.0.2.1', port: 40000, socketId: 'sip-tcp', node: 1, connectionId: 9 });
  const b = binding({ source });
  t.like(owner.connectionOf(b), { transport: 'tcp', connectionId: 2 ** 41 + 9 });
  const holder = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, 1, clock);
  holder.flows = { holder: (cid) => ({ node: 1, connectionId: cid }), reach: (node, cid) => (node === 1 ? cid : -1) };
  t.like(holder.connectionOf(b), { connectionId: 9 }, 'the holder sends on its own connection');
});

test('GET /location shows one AOR (canonical form), 404 when none, 400 for a bad URI, and dumps every AOR as lines', (t) => {
  const l = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, 1, clock);
  l.put(binding());
  l.put(binding({ aor: 'sip:bob@example.com', contact: 'sip:bob@192.0.2.3', source: { transport: 'udp', address: '192.0.2.3', port: 5060, node: 0 } }));
  const view = locationView(l, clock.now);
  const one = view(new URLSearchParams({ aor: 'sips:alice@EXAMPLE.com:5061' }));
  t.true('body' in one && (one as { status: number }).status === 200);
  const body = (one as unknown as { body: { aor: string; bindings: Array<Record<string, unknown>> } }).body;
  t.is(body.aor, 'sip:alice@example.com');
  t.like(body.bindings[0], { contact: 'sip:alice@192.0.2.1:5062;transport=tcp', expires: 60, received: 'tcp:192.0.2.1:5062', flow: { node: 3, connection: 42 } });
  t.is((view(new URLSearchParams({ aor: 'sip:carol@example.com' })) as { status: number }).status, 404);
  t.is((view(new URLSearchParams({ aor: 'not a uri' })) as { status: number }).status, 400);
  const dump = view(new URLSearchParams()) as { lines: Iterable<{ aor: string }> };
  t.deepEqual([...dump.lines].map((e) => e.aor).sort(), ['sip:alice@example.com', 'sip:bob@example.com']);
});

test('where a call to a binding goes: the Contact, the registered connection, or the RFC 5626 flow', (t) => {
  const l = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, 1, clock);
  const udp = (contact: string, address: string) => {
    const b = binding({ contact, path: [], source: { transport: 'udp', address, port: 40123, socketId: 'anycast-udp', node: 0 } });
    delete b.instance;
    delete b.regId;
    return b;
  };
  t.is(l.destinationOf(udp('sip:a@203.0.113.5:5060', '203.0.113.5')), undefined, 'a public Contact is dialled');
  t.is(l.destinationOf(udp('sip:a@203.0.113.5:5060', '198.51.100.7')), undefined, 'a public Contact elsewhere is dialled too (a third-party registration)');
  const natted = udp('sip:a@192.168.1.20:5060', '198.51.100.7');
  t.is(l.destinationOf(natted), undefined, 'a private Contact is dialled as written (it may be a third-party registration)');
  t.deepEqual(
    l.destinationOf({ ...natted, source: { ...natted.source, nat: true } }),
    { transport: 'udp', address: '198.51.100.7', port: 40123, socketId: 'anycast-udp' },
    'a phone that registered from behind a NAT (nat.ts): where its REGISTER came from, from that socket',
  );
  const outbound = udp('sip:a@203.0.113.5:5060;ob', '198.51.100.7');
  t.deepEqual(l.destinationOf({ ...outbound, instance: '"<urn:uuid:1>"', regId: 1 }), { transport: 'udp', address: '198.51.100.7', port: 40123, socketId: 'anycast-udp' }, 'RFC 5626: the flow, from the socket it came in on');
  const tcp = binding({ contact: 'sip:a@10.0.0.3:5062;transport=tcp', path: [], source: { transport: 'tcp', address: '198.51.100.7', port: 50000, connectionId: 7, node: 1 } });
  t.like(l.destinationOf({ ...tcp, instance: '"<urn:uuid:2>"', regId: 1 }), { transport: 'tcp', connectionId: 7, connectionOnly: true }, 'TCP on an RFC 5626 flow: the connection');
  const plain = { ...tcp };
  delete plain.instance;
  delete plain.regId;
  t.is(l.destinationOf(plain), undefined, 'TCP with a Contact elsewhere: dialled');
  const natTcp = l.destinationOf({ ...plain, source: { ...plain.source, nat: true } });
  t.deepEqual(natTcp, { transport: 'tcp', address: '198.51.100.7', port: 50000, connectionId: 7, connectionOnly: true }, 'TCP from behind a NAT: the connection, nothing else');
  const ws = binding({ contact: 'sip:a@df7jal23ls0d.invalid;transport=ws', path: [], source: { transport: 'ws', address: '198.51.100.7', port: 50001, connectionId: 8, node: 1 } });
  t.like(l.destinationOf(ws), { transport: 'ws', connectionId: 8 });
});
