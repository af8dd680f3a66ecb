import test from 'ava';
import type { Binding } from '../../../src/location/binding.js';
import { Keepalives } from '../../../src/location/keepalive.js';
import { LocationService } from '../../../src/location/location.js';
import { parseMessage } from '../../../src/sip/parser.js';
import type { Destination, Sender } from '../../../src/transport/types.js';

const clock = { now: () => 1_000_000 };

function b(user: string, contact: string, source: Binding['source']): Binding {
  return { aor: `sip:${user}@example.com`, contact, q: 1, qText: '', expiresAt: 1_000_000 + 60_000, callId: user, cseq: 1, path: [], source };
}

function rig(selfId: number, isMine: (key: string) => boolean, natedOnly = true, method: 'crlf' | 'options' = 'crlf') {
  const location = new LocationService({ max_expires: 3600, max_clock_skew: 2000 }, selfId, clock);
  const sent: Array<{ data: string; dest: Destination }> = [];
  const sender: Sender = {
    send: (data, dest) => void sent.push({ data: data.toString(), dest }),
    socketFor: (dest) => ({ id: 'sip', transport: dest.transport, address: '0.0.0.0', advertise: '192.0.2.53', port: 5060, role: 'anycast' }),
  };
  const k = new Keepalives(location, { interval: 30, nated_only: natedOnly, method }, sender, isMine, clock);
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
  t.deepEqual(k.counters, { keepalives_sent: 2, keepalives_failed: 0, keepalives_answered: 0 });
});

test('a UDP binding whose key this node does not own gets no keep-alive here; with nated_only off every owned UDP binding does', async (t) => {
  const notMine = rig(1, () => false);
  t.is(await notMine.k.round(), 1, 'only the TCP binding on this node');
  const all = rig(1, () => true, false);
  t.is(await all.k.round(), 3);
  t.true(all.sent.some((s) => s.dest.address === '203.0.113.9'));
});

test('OPTIONS keep-alives: a request to the Contact from the socket it leaves on, whose answer any node recognises and counts', async (t) => {
  const { k, sent } = rig(1, () => true, true, 'options');
  t.is(await k.round(), 2);
  const [udp, tcp] = sent.map((s) => parseMessage(Buffer.from(s.data)));
  t.is(udp!.method, 'OPTIONS');
  t.is(udp!.uri, 'sip:natted@192.168.1.2:5060;ob');
  t.is(sent[0]!.dest.address, '198.51.100.1', 'sent to the flow, not the Contact');
  t.like(udp!.topVia, { transport: 'UDP', host: '192.0.2.53', port: 5060, rport: null }, 'the anycast address, so the answer comes back to the cluster');
  t.is(tcp!.topVia.transport, 'TCP');
  t.not(udp!.callId, tcp!.callId);
  const answer = (req: typeof udp, callId = req!.callId, method = 'OPTIONS') =>
    parseMessage(
      Buffer.from(
        `SIP/2.0 200 OK\r\nVia: ${req!.get('via')}\r\nFrom: ${req!.get('from')}\r\nTo: ${req!.get('to')};tag=p\r\n` +
          `Call-ID: ${callId}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`,
      ),
    );
  t.true(k.claim(answer(udp)));
  // Another node of the cluster recognises it as well: the answer reaches whichever node the network picks.
  t.true(rig(2, () => true).k.claim(answer(tcp)));
  t.false(k.claim(answer(udp, 'some-other-call')), 'a stray response of a call is left to the proxy');
  t.false(k.claim(answer(udp, udp!.callId, 'INVITE')));
  t.is(k.counters.keepalives_answered, 1);
});
