// SIP over WebSocket (RFC 7118): a browser-like client registers over WS with
// an unresolvable *.invalid Contact; a SIPp caller on UDP calls it, and the
// ACK and BYE find the WebSocket connection through our Record-Route flow token.

import test from 'ava';
import WebSocket from 'ws';
import { parseMessage } from '../../src/sip/parser.js';
import { buildResponse } from '../../src/sip/response.js';
import type { SipMessage } from '../../src/sip/message.js';
import { explain, freePort, requireSipp, sipp, startNode } from './harness.js';

requireSipp();

class WsPhone {
  readonly received: SipMessage[] = [];
  private waiters: Array<(m: SipMessage) => void> = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = parseMessage(Buffer.from(data));
      this.received.push(msg);
      this.waiters.shift()?.(msg);
    });
  }
  static async connect(url: string): Promise<WsPhone> {
    const ws = new WebSocket(url, 'sip');
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new WsPhone(ws);
  }
  next(timeoutMs = 5000): Promise<SipMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SIP message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }
  send(msg: SipMessage | string): void {
    this.ws.send(typeof msg === 'string' ? msg : msg.toString());
  }
}

test('a WebSocket phone registers, is called from UDP, and gets the ACK and BYE over its connection', async (t) => {
  const udpPort = await freePort();
  const wsPort = await freePort();
  const node = await startNode(`
node: { id: 8 }
listen:
  - { id: udp, transport: udp, address: 127.0.0.1, port: ${udpPort} }
  - { id: ws, transport: ws, address: 127.0.0.1, port: ${wsPort} }
admin: { enabled: false }
log: { level: error }
`);
  const phone = await WsPhone.connect(`ws://127.0.0.1:${wsPort}`);
  try {
    phone.send(
      [
        'REGISTER sip:127.0.0.1 SIP/2.0',
        'Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKwsreg1',
        'From: <sip:wsuser@127.0.0.1>;tag=ws1',
        'To: <sip:wsuser@127.0.0.1>',
        'Call-ID: ws-reg-1',
        'CSeq: 1 REGISTER',
        'Contact: <sip:wsuser@df7jal23ls0d.invalid;transport=ws>;expires=300',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const registered = await phone.next();
    t.is(registered.status, 200, 'REGISTER over WebSocket accepted');

    const caller = sipp({ scenario: 'uac-call.xml', remote: `127.0.0.1:${udpPort}`, localPort: await freePort(), service: 'wsuser' });
    const invite = await phone.next();
    t.is(invite.method, 'INVITE');
    const rr = invite.getAll('record-route');
    t.is(rr.length, 2, 'double Record-Route: the request changed side (UDP -> WS)');
    t.regex(rr[0]!, /^<sip:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+@127\.0\.0\.1:\d+;transport=ws;lr;d=[A-Za-z0-9_-]{8}>$/, 'WS-side entry carries a flow token');

    const contact: Array<[string, string]> = [['Contact', '<sip:wsuser@df7jal23ls0d.invalid;transport=ws>']];
    const rrHeaders: Array<[string, string]> = rr.map((v) => ['Record-Route', v]);
    phone.send(buildResponse(invite, 180, { toTag: 'wsphone', headers: [...rrHeaders, ...contact] }));
    phone.send(buildResponse(invite, 200, { toTag: 'wsphone', headers: [...rrHeaders, ...contact] }));

    const ack = await phone.next();
    t.is(ack.method, 'ACK', 'the 2xx ACK reached the WebSocket phone');
    const bye = await phone.next();
    t.is(bye.method, 'BYE', 'the BYE reached the WebSocket phone');
    phone.send(buildResponse(bye, 200));
    const done = await caller.done;
    t.is(done.code, 0, explain(done));
  } finally {
    phone.ws.close();
    await node.stop();
  }
});

test('a forged flow token in a Route does not steer a request onto a WebSocket connection', async (t) => {
  const { FlowTokens } = await import('../../src/proxy/flow-token.js');
  const tokens = new FlowTokens('secret-one-0123456789');
  const token = tokens.encode({ transport: 'ws', address: '127.0.0.1', port: 40000, connectionId: 3 })!;
  t.deepEqual(tokens.decode(token)?.destination, { transport: 'ws', address: '127.0.0.1', port: 40000, connectionId: 3, connectionOnly: true });
  t.is(new FlowTokens('another-secret-0123456789').decode(token), undefined, 'other key');
  const [body] = token.split('.');
  const forgedBody = Buffer.from('4|127.0.0.1|40000').toString('base64url');
  t.is(tokens.decode(`${forgedBody}.${token.split('.')[1]}`), undefined, 'body swapped under an old MAC');
  t.is(tokens.decode(body), undefined, 'no MAC');
  t.is(tokens.decode('alice'), undefined, 'a plain user part');
});
