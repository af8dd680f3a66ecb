import test from 'ava';
import type { Binding } from '../../../src/location/binding.js';
import { Keepalives } from '../../../src/location/keepalive.js';
import { LocationService } from '../../../src/location/location.js';
import type { Destination, Sender } from '../../../src/transport/types.js';

const clock = { now: () => 1_000_000 };

function b(user: string, contact: string, source: Binding['source']): Binding {
  return { aor: `sip:${user}@example.com`, contact, q: 1, qText: '', expiresAt: 1_000_000 + 60_000, callId: user, cseq: 1, path: [], source };
}

function rig(selfId: number, isMine: (key: string) => boolean, natedOnly = true) {
  const location = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, selfId, clock);
  const sent: Array<{ data: string; dest: Destination }> = [];
  const sender: Sender = {
    send: (data, dest) => void sent.push({ data: data.toString(), dest }),
    socketFor: () => ({ id: 'sip', transport: 'udp', address: '0.0.0.0', port: 5060, role: 'anycast' }),
  };
  const k = new Keepalives(location, { interval: 30, nated_only: natedOnly }, sender, isMine, clock);
  location.put({ ...b('natted', 'sip:natted@192.168.1.2:5060;ob', { transport: 'udp', address: '198.51.100.1', port: 40000, socketId: 'sip', node: 0 }), instance: '"<urn:uuid:3>"', regId: 1 });
  location.put(b('public', 'sip:public@203.0.113.9:5060', { transport: 'udp', address: '203.0.113.9', port: 5060, socketId: 'sip', node: 0 }));
  location.put(b('tcp-here', 'sip:t@198.51.100.2:50000;transport=tcp', { transport: 'tcp', address: '198.51.100.2', port: 50000, connectionId: 5, node: 1 }));
  location.put(b('tcp-there', 'sip:t@198.51.100.3:50001;transport=tcp', { transport: 'tcp', address: '198.51.100.3', port: 50001, connectionId: 6, node: 2 }));
  return { k, sent };
}

test('CRLF CRLF to the flow of each binding this node has the duty of, and only those', async (t) => {
  const { k, sent } = rig(1, () => true);
  t.is(await k.round(), 2);
  t.deepEqual(
    sent.map((s) => [s.data, s.dest.transport, s.dest.address, s.dest.port, s.dest.connectionId, s.dest.connectionOnly]),
    [
      ['\r\n\r\n', 'udp', '198.51.100.1', 40000, undefined, undefined],
      ['\r\n\r\n', 'tcp', '198.51.100.2', 50000, 5, true],
    ],
    'the NATed UDP binding at its source, the TCP one on its own connection; not the public one, not a connection another node holds',
  );
  t.deepEqual(k.counters, { keepalives_sent: 2, keepalives_failed: 0 });
});

test('a UDP binding whose key this node does not own gets no keep-alive here; with nated_only off every owned UDP binding does', async (t) => {
  const notMine = rig(1, () => false);
  t.is(await notMine.k.round(), 1, 'only the TCP binding on this node');
  const all = rig(1, () => true, false);
  t.is(await all.k.round(), 3);
  t.true(all.sent.some((s) => s.dest.address === '203.0.113.9'));
});
