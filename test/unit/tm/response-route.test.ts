import test from 'ava';
import { parseVia } from '../../../src/sip/headers.js';
import { responseDestination } from '../../../src/tm/response-route.js';
import { env } from './helpers.js';

const via = (v: string) => parseVia(v);

test('UDP: received + rport value win', (t) => {
  t.deepEqual(responseDestination(via('SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKx;received=198.51.100.7;rport=40000')), {
    transport: 'udp',
    address: '198.51.100.7',
    port: 40000,
  });
});

test('UDP: received without rport -> sent-by port (default 5060)', (t) => {
  t.deepEqual(responseDestination(via('SIP/2.0/UDP 10.0.0.1:5070;received=198.51.100.7')), {
    transport: 'udp', address: '198.51.100.7', port: 5070,
  });
  t.deepEqual(responseDestination(via('SIP/2.0/UDP 10.0.0.1;received=198.51.100.7')), {
    transport: 'udp', address: '198.51.100.7', port: 5060,
  });
});

test('UDP: no received -> sent-by host; with an envelope, the source address', (t) => {
  t.deepEqual(responseDestination(via('SIP/2.0/UDP ua.example.com:5080')), {
    transport: 'udp', address: 'ua.example.com', port: 5080,
  });
  t.deepEqual(responseDestination(via('SIP/2.0/UDP 198.51.100.7:5080'), env('udp', { address: '198.51.100.7', port: 33333 })), {
    transport: 'udp', address: '198.51.100.7', port: 5080, socketId: 'any-udp',
  });
});

test('UDP: empty rport (not yet filled in) uses the source port from the envelope', (t) => {
  t.deepEqual(responseDestination(via('SIP/2.0/UDP 10.0.0.1:5070;rport'), env('udp', { address: '198.51.100.7', port: 33333 })), {
    transport: 'udp', address: '198.51.100.7', port: 33333, socketId: 'any-udp',
  });
});

test('UDP: maddr wins, with the sent-by port or 5060', (t) => {
  t.deepEqual(responseDestination(via('SIP/2.0/UDP 10.0.0.1:5070;maddr=239.1.1.1;received=198.51.100.7;rport=4')), {
    transport: 'udp', address: '239.1.1.1', port: 5070,
  });
  t.deepEqual(responseDestination(via('SIP/2.0/UDP 10.0.0.1;maddr=239.1.1.1')).port, 5060);
});

test('IPv6 addresses come out without brackets', (t) => {
  t.deepEqual(responseDestination(via('SIP/2.0/UDP [2001:db8::9]:5062')), {
    transport: 'udp', address: '2001:db8::9', port: 5062,
  });
  t.is(responseDestination(via('SIP/2.0/UDP [2001:db8::9];received=[2001:db8::7]')).address, '2001:db8::7');
});

test('reliable: the connection the request came on', (t) => {
  t.deepEqual(
    responseDestination(via('SIP/2.0/TCP 10.0.0.1:5070;received=198.51.100.7'), env('tcp', { address: '198.51.100.7', port: 40001 }, { connectionId: 12, socketId: 'tcp1' })),
    { transport: 'tcp', address: '198.51.100.7', port: 40001, connectionId: 12, socketId: 'tcp1' },
  );
});

test('reliable without a connection: received (or sent-by) host, sent-by port, TLS default 5061', (t) => {
  t.deepEqual(responseDestination(via('SIP/2.0/TCP 10.0.0.1:5070;received=198.51.100.7;rport=40001')), {
    transport: 'tcp', address: '198.51.100.7', port: 5070,
  });
  t.deepEqual(responseDestination(via('SIP/2.0/TLS ua.example.com')), { transport: 'tcp', address: 'ua.example.com', port: 5061 });
  t.deepEqual(responseDestination(via('SIP/2.0/WS abc.invalid')), { transport: 'ws', address: 'abc.invalid', port: 5060 });
});
