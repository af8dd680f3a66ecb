import test from 'ava';
import { crc32 } from 'node:zlib';
import { looksLikeStun, stunBindingResponse } from '../../../src/transport/stun.js';
import { nextDatagram, portOf, sip, startLayer, udpClient, waitFor } from './helpers.js';

// RFC 5769 2.2 and 2.3: the sample responses' transaction id, and what their XOR-MAPPED-ADDRESS must read.
const TXID = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');

function bindingRequest(opts: { fingerprint?: boolean; type?: number } = {}): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt16BE(opts.type ?? 0x0001, 0);
  head.writeUInt32BE(0x2112a442, 4);
  TXID.copy(head, 8);
  if (!opts.fingerprint) return head;
  const msg = Buffer.concat([head, Buffer.alloc(8)]);
  msg.writeUInt16BE(8, 2);
  msg.writeUInt16BE(0x8028, 20);
  msg.writeUInt16BE(4, 22);
  msg.writeUInt32BE((crc32(msg.subarray(0, 20)) ^ 0x5354554e) >>> 0, 24);
  return msg;
}

test('a Binding request is answered with the XOR-MAPPED-ADDRESS of RFC 5769, IPv4 and IPv6', (t) => {
  const v4 = stunBindingResponse(bindingRequest(), { address: '192.0.2.1', port: 32853 })!;
  t.is(v4.readUInt16BE(0), 0x0101, 'Binding success');
  t.is(v4.readUInt16BE(2), v4.length - 20);
  t.deepEqual(v4.subarray(8, 20), TXID, 'the request\'s transaction id');
  t.is(v4.subarray(20).toString('hex'), '002000080001a147e112a643');
  const v6 = stunBindingResponse(bindingRequest(), { address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 })!;
  t.is(v6.subarray(20).toString('hex'), '002000140002a147' + '0113a9faa5d3f179bc25f4b5bed2b9d9');
  t.is(stunBindingResponse(bindingRequest(), { address: '::1', port: 5060 })!.length, 20 + 24);
});

test('FINGERPRINT is in the answer when the request had one, and checks out', (t) => {
  const res = stunBindingResponse(bindingRequest({ fingerprint: true }), { address: '192.0.2.1', port: 32853 })!;
  const at = res.length - 8;
  t.is(res.readUInt16BE(at), 0x8028);
  t.is(res.readUInt32BE(at + 4), (crc32(res.subarray(0, at)) ^ 0x5354554e) >>> 0);
  t.is(stunBindingResponse(bindingRequest(), { address: '192.0.2.1', port: 1 })!.length, 32, 'none without');
});

test('SIP is never taken for STUN; other STUN and broken STUN get no answer', (t) => {
  t.false(looksLikeStun(sip()));
  t.false(looksLikeStun(Buffer.from('\r\n\r\n')));
  t.is(stunBindingResponse(bindingRequest({ type: 0x0111 }), { address: '192.0.2.1', port: 1 }), undefined, 'an error response');
  const truncated = bindingRequest({ fingerprint: true }).subarray(0, 24);
  t.is(stunBindingResponse(truncated, { address: '192.0.2.1', port: 1 }), undefined, 'length disagrees with the datagram');
});

test('udp: a STUN Binding request on the SIP port is answered from that socket and not delivered as SIP', async (t) => {
  const { layer, received } = await startLayer(t, [{ id: 'u', transport: 'udp', address: '127.0.0.1', port: 0 }]);
  const client = await udpClient(t, '127.0.0.1');
  const port = portOf(layer, 'u');
  const got = nextDatagram(client);
  client.send(bindingRequest(), port, '127.0.0.1');
  const { data, rinfo } = await got;
  t.is(rinfo.port, port);
  t.is(data.readUInt16BE(0), 0x0101);
  t.is(data.readUInt16BE(26) ^ 0x2112, client.address().port, 'the client learns its own port');
  client.send(bindingRequest({ type: 0x0003 }), port, '127.0.0.1');
  client.send(sip(), port, '127.0.0.1');
  await waitFor(() => received.length === 1, 'the SIP message');
  t.like(layer.stats(), { stunKeepalives: 1, stunDropped: 1, udpIn: 1 });
});
