import test from 'ava';
import { FlowTokens } from '../../../src/proxy/flow-token.js';
import { type RouteStampDeps, stampRoutes } from '../../../src/proxy/record-route.js';
import { parseMessage } from '../../../src/sip/parser.js';
import type { Envelope, SocketSpec } from '../../../src/transport/types.js';

const udp: SocketSpec = { id: 'sip', transport: 'udp', address: '192.0.2.10', port: 5060, role: 'anycast' };
const core: SocketSpec = { id: 'core', transport: 'udp', address: '10.0.0.10', port: 5060, role: 'unicast' };
const env = { transport: 'udp', remote: { address: '198.51.100.7', port: 40001 }, socketId: 'sip', receivedAt: 0, hops: 0 } as unknown as Envelope;

function deps(addPath: RouteStampDeps['settings']['add_path']): RouteStampDeps {
  return {
    flows: new FlowTokens('record-route-test-secret-0123', 1),
    settings: { record_route: true, add_path: addPath },
    socketById: (id) => [udp, core].find((s) => s.id === id),
    socketFor: () => core,
  };
}

const register = (extra: string) =>
  parseMessage(
    Buffer.from(
      'REGISTER sip:home.example SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:40001;branch=z9hG4bK1\r\n' +
        'From: <sip:a@home.example>;tag=1\r\nTo: <sip:a@home.example>\r\nCall-ID: rr1\r\nCSeq: 1 REGISTER\r\n' +
        `${extra}Content-Length: 0\r\n\r\n`,
    ),
  );

const stamped = (req: ReturnType<typeof register>, d: RouteStampDeps) => {
  const out = req.clone();
  stampRoutes(out, req, env, { transport: 'udp', address: '10.0.0.20', port: 5060 }, d);
  return out;
};

test('Path on a relayed REGISTER: outbound ones by default (with ob), every one with always, none with never', (t) => {
  const outbound = register('Supported: path, outbound\r\nContact: <sip:a@198.51.100.7:40001;ob>;+sip.instance="<urn:uuid:1>";reg-id=1\r\n');
  const plain = register('Contact: <sip:a@198.51.100.7:40001>\r\n');
  const d = deps('outbound');
  const path = stamped(outbound, d).getAll('path');
  t.is(path.length, 1);
  t.regex(path[0]!, /^<sip:[^@]+@10\.0\.0\.10:5060;lr;ob>$/, 'on the socket facing the registrar, with ob');
  const token = /^<sip:([^@]+)@/.exec(path[0]!)![1];
  t.deepEqual(d.flows.decode(token)!.destination, { transport: 'udp', address: '198.51.100.7', port: 40001, socketId: 'sip' }, 'names the flow the REGISTER came on');
  t.deepEqual(stamped(plain, d).getAll('path'), []);
  t.regex(stamped(plain, deps('always')).getAll('path')[0]!, /;lr>$/, 'always: without ob for a REGISTER that did not ask for outbound');
  t.deepEqual(stamped(outbound, deps('never')).getAll('path'), []);
  t.deepEqual(stamped(outbound, d).getAll('record-route'), [], 'a REGISTER is never record-routed');
});
