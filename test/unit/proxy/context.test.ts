// Forking and best-response selection of ProxyContext, driven by hand.

import test from 'ava';
import { ProxyContext, type ContextHost, type Target } from '../../../src/proxy/context.js';
import { SipMessage } from '../../../src/sip/message.js';
import { buildResponse, type ResponseOptions } from '../../../src/sip/response.js';
import { buildLocalResponse, ToTagKey } from '../../../src/sip/local-response.js';
import type { ClientTransaction, ServerTransaction } from '../../../src/tm/types.js';
import type { Destination } from '../../../src/transport/types.js';

function invite(): SipMessage {
  const m = SipMessage.request('INVITE', 'sip:bob@example.com');
  m.append('Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller');
  m.append('From', '<sip:alice@example.com>;tag=a');
  m.append('To', '<sip:bob@example.com>');
  m.append('Call-ID', 'fork-1');
  m.append('CSeq', '1 INVITE');
  m.append('Content-Length', '0');
  return m;
}

class Harness implements ContextHost {
  readonly upstream: SipMessage[] = [];
  readonly forked: Array<{ target: Target; ct: FakeClient }> = [];
  readonly server: ServerTransaction;
  constructor() {
    const request = invite();
    this.server = {
      id: 's1',
      request,
      envelope: { transport: 'udp', remote: { address: '192.0.2.1', port: 5060 }, local: { address: '10.0.0.1', port: 5060 }, socketId: 'udp', receivedAt: 0, hops: 0 },
      state: 'proceeding',
      lastResponse: undefined,
      respond: (res: SipMessage) => this.upstream.push(res),
      user: undefined,
    };
  }
  /** Like a target that needs a DNS lookup: the branch starts a microtask later. */
  forward(_ctx: ProxyContext, target: Target): ClientTransaction | Promise<ClientTransaction> {
    const req = this.server.request.clone();
    req.prepend('Via', `SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK.branch${this.forked.length}`);
    const ct = new FakeClient(req);
    this.forked.push({ target, ct });
    return Promise.resolve(ct);
  }
  reply(_server: ServerTransaction, res: SipMessage): void {
    this.upstream.push(res);
  }
  private readonly tags = new ToTagKey('context-test-secret');
  localResponse(req: SipMessage, status: number, opts?: ResponseOptions): SipMessage {
    return buildLocalResponse(req, status, this.tags, opts);
  }
  readonly drops: string[] = [];
  dropped(reason: string): void {
    this.drops.push(reason);
  }
  /** A downstream response on branch i (our Via on top, as tm delivers it). */
  respond(ctx: ProxyContext, i: number, status: number, headers?: Array<[string, string]>): void {
    const ct = this.forked[i]!.ct;
    ctx.onResponse(ct, buildResponse(ct.request, status, { toTag: `t${i}`, headers }), undefined);
  }
}

class FakeClient implements ClientTransaction {
  id = 'c';
  state = 'calling' as const;
  lastStatus = 0;
  cancelled = 0;
  user: unknown;
  destination: Destination = { transport: 'udp', address: '192.0.2.9', port: 5060 };
  constructor(readonly request: SipMessage) {}
  cancel(): void {
    this.cancelled++;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

async function fork(groups: Target[][]) {
  const h = new Harness();
  const ctx = new ProxyContext(h.server, h);
  ctx.start(groups);
  await tick();
  return { h, ctx };
}

test('parallel fork: provisionals pass, best final is chosen once all branches answered', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:b@1.1.1.2' }, { uri: 'sip:c@1.1.1.3' }]]);
  t.is(h.forked.length, 3);
  h.respond(ctx, 0, 180);
  t.is(h.upstream.length, 1);
  t.is(h.upstream[0]!.status, 180);
  t.is(h.upstream[0]!.vias.length, 1, 'our Via stripped');
  h.respond(ctx, 0, 486);
  h.respond(ctx, 1, 404);
  t.is(h.upstream.length, 1, 'no final before every branch is done');
  h.respond(ctx, 2, 503);
  t.is(h.upstream.length, 2);
  t.is(h.upstream[1]!.status, 486, 'lowest class wins (4xx over 5xx); within a class the first answer stays');
});

test('a 2xx goes up at once and cancels the other branches', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:b@1.1.1.2' }]]);
  h.respond(ctx, 1, 200);
  t.is(h.upstream.at(-1)!.status, 200);
  t.is(h.forked[0]!.ct.cancelled, 1);
  t.is(h.forked[1]!.ct.cancelled, 0);
  // A 2xx from the other fork still goes upstream (the caller must see and ACK it).
  h.respond(ctx, 0, 200);
  t.is(h.upstream.filter((r) => r.status === 200).length, 2);
});

test('a 6xx cancels the other branches and wins', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:b@1.1.1.2' }]]);
  h.respond(ctx, 0, 603);
  t.is(h.forked[1]!.ct.cancelled, 1);
  h.respond(ctx, 1, 487);
  t.is(h.upstream.at(-1)!.status, 603);
});

test('serial groups: the next group is tried only after the first fails', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }], [{ uri: 'sip:b@1.1.1.2' }]]);
  t.is(h.forked.length, 1);
  h.respond(ctx, 0, 480);
  await tick();
  t.is(h.forked.length, 2, 'second group started');
  t.is(h.upstream.length, 0);
  h.respond(ctx, 1, 200);
  t.is(h.upstream.at(-1)!.status, 200);
});

test('CANCEL cancels pending branches; their 487 goes up', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:b@1.1.1.2' }]]);
  h.respond(ctx, 0, 180);
  ctx.cancel();
  t.is(h.forked[0]!.ct.cancelled, 1);
  t.is(h.forked[1]!.ct.cancelled, 1);
  h.respond(ctx, 0, 487);
  h.respond(ctx, 1, 408);
  t.is(h.upstream.at(-1)!.status, 487);
});

test('a cancelled request whose branches only time out still answers 487', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }]]);
  ctx.cancel();
  h.respond(ctx, 0, 408);
  t.is(h.upstream.at(-1)!.status, 487);
});

test('503 from downstream is relayed as 500; 401 and 407 challenges are merged', async (t) => {
  const a = await fork([[{ uri: 'sip:a@1.1.1.1' }]]);
  a.h.respond(a.ctx, 0, 503);
  t.is(a.h.upstream.at(-1)!.status, 500);

  const b = await fork([[{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:b@1.1.1.2' }]]);
  b.h.respond(b.ctx, 0, 401, [['WWW-Authenticate', 'Digest realm="a"']]);
  b.h.respond(b.ctx, 1, 407, [['Proxy-Authenticate', 'Digest realm="b"']]);
  const res = b.h.upstream.at(-1)!;
  t.is(res.status, 401);
  t.is(res.get('www-authenticate'), 'Digest realm="a"');
  t.is(res.get('proxy-authenticate'), 'Digest realm="b"');
});

test('a branch that cannot be sent counts as 503 (relayed as 500)', async (t) => {
  const h = new Harness();
  h.forward = () => Promise.reject(new Error('cannot resolve nowhere.invalid'));
  const ctx = new ProxyContext(h.server, h);
  ctx.start([[{ uri: 'sip:x@nowhere.invalid' }]]);
  await tick();
  t.is(h.upstream.at(-1)!.status, 500);
  t.is(h.upstream.at(-1)!.vias.length, 1, 'locally built from the upstream request');
});

test('a final response left with no Via is not relayed as is: the caller gets its status, built from its own request', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }]]);
  const ct = h.forked[0]!.ct;
  const broken = buildResponse(ct.request, 487, { toTag: 'x' });
  // Only our own Via: what a UAS answering from our CANCEL's single Via would send.
  broken.set('Via', `SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK.branch0`);
  ctx.onResponse(ct, broken, undefined);
  const up = h.upstream.at(-1)!;
  t.is(up.status, 487);
  t.is(up.vias.length, 1);
  t.is(up.topVia.branch, 'z9hG4bKcaller', "the caller's own Via");
  t.is(up.toTag, 'x');
  t.deepEqual(h.drops, ['response_without_via']);
});

test('a host that forwards synchronously: branches start at once, and a target that throws counts as 503', (t) => {
  const h = new Harness();
  const async = h.forward.bind(h);
  let calls = 0;
  // The proxy returns the client transaction itself when no DNS lookup is needed.
  h.forward = (ctx, target) => {
    calls++;
    if (target.uri === 'sip:x@bad') throw new Error('unsupported transport=sctp');
    void async(ctx, target);
    return h.forked.at(-1)!.ct;
  };
  const ctx = new ProxyContext(h.server, h);
  ctx.start([[{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:x@bad' }]]);
  t.is(calls, 2);
  t.is(h.forked.length, 1);
  t.is(h.forked[0]!.ct.user, 'pending', 'started without waiting for a microtask');
  t.is(ctx.pendingBranches, 1, 'the throwing target is already final');
  h.respond(ctx, 0, 486);
  t.is(h.upstream.at(-1)!.status, 486, '486 beats the 503 of the target that could not be sent');
});

test('once the 2xx is up and every branch is final, late finals are dropped and 2xx retransmissions still go up', async (t) => {
  const { h, ctx } = await fork([[{ uri: 'sip:a@1.1.1.1' }, { uri: 'sip:b@1.1.1.2' }]]);
  h.respond(ctx, 0, 200);
  h.respond(ctx, 1, 487); // the other fork, cancelled: its final closes the last branch
  t.deepEqual(h.upstream.map((r) => r.status), [200]);
  t.is(ctx.pendingBranches, 0);
  h.respond(ctx, 1, 487); // retransmitted final after settling: nothing happens
  h.respond(ctx, 0, 200); // RFC 6026: a 2xx retransmission is relayed
  t.deepEqual(h.upstream.map((r) => r.status), [200, 200]);
  ctx.cancel(); // a CANCEL after the final: no effect, no throw
  t.is(h.forked[1]!.ct.cancelled, 1);
});

const flowA: Target = { uri: 'sip:alice@198.51.100.1;ob', flow: true };
const flowB: Target = { uri: 'sip:alice@198.51.100.2;ob', flow: true };

test('RFC 5626: a flow that fails with 430 is replaced by the next flow of its instance; only its answer goes up', async (t) => {
  const { h, ctx } = await fork([[{ ...flowA, alternates: [flowB] }]]);
  t.is(h.forked.length, 1, 'one flow of an instance at a time');
  h.respond(ctx, 0, 430);
  await tick();
  t.is(h.forked.length, 2);
  t.is(h.forked[1]!.target.uri, flowB.uri);
  t.is(h.upstream.length, 0, 'the 430 is not relayed');
  h.respond(ctx, 1, 200);
  t.deepEqual(h.upstream.map((r) => r.status), [200]);
});

test('RFC 5626: a final other than 430 from a flow ends its instance: the other flow is not tried', async (t) => {
  const { h, ctx } = await fork([[{ ...flowA, alternates: [flowB] }]]);
  h.respond(ctx, 0, 486);
  await tick();
  t.is(h.forked.length, 1);
  t.deepEqual(h.upstream.map((r) => r.status), [486]);
});

test('a flow whose connection is gone fails over too; with none left the caller gets 430 Flow Failed, a plain TCP phone 480', async (t) => {
  const gone: Destination = { transport: 'tcp', address: '198.51.100.1', port: 5060, connectionOnly: true };
  const { h, ctx } = await fork([[{ ...flowA, alternates: [flowB] }]]);
  h.forked[0]!.ct.destination = gone;
  h.respond(ctx, 0, 503);
  await tick();
  t.is(h.forked.length, 2, 'the next flow was tried');
  h.forked[1]!.ct.destination = gone;
  h.respond(ctx, 1, 503);
  t.is(h.upstream.at(-1)!.status, 430);
  t.is(h.upstream.at(-1)!.reason, 'Flow Failed');
  const plain = await fork([[{ uri: 'sip:bob@198.51.100.3;transport=tcp' }]]);
  plain.h.forked[0]!.ct.destination = gone;
  plain.h.respond(plain.ctx, 0, 503);
  t.is(plain.h.upstream.at(-1)!.status, 480);
});

test('a cancelled request does not fail over to another flow', async (t) => {
  const { h, ctx } = await fork([[{ ...flowA, alternates: [flowB] }]]);
  ctx.cancel();
  h.respond(ctx, 0, 430);
  await tick();
  t.is(h.forked.length, 1);
  t.is(h.upstream.length, 1, 'the branch final ends the transaction');
});
