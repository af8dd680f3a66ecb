import test from 'ava';
import { buildResponse } from '../../../src/sip/response.js';
import type { Destination } from '../../../src/transport/types.js';
import { env, RecordingHandler, reply, request, setup } from './helpers.js';

test('many transactions of every kind end, and nothing is left: no transactions, no timers', (t) => {
  const s = setup({ timerC: 20_000 });
  const { layer, user, wheel } = s;
  const dests: Destination[] = [
    { transport: 'udp', address: '203.0.113.5', port: 5060 },
    { transport: 'tcp', address: '203.0.113.6', port: 5060 },
  ];
  const h = new RecordingHandler();
  const N = 200;
  for (let i = 0; i < N; i++) {
    const dest = dests[i % 2]!;
    const tr = dest.transport === 'udp' ? 'UDP' : 'TCP';
    const e = env(dest.transport, undefined, dest.transport === 'tcp' ? { connectionId: i } : {});
    const branch = `z9hG4bKin${i}`;
    // Server side: INVITE answered in different ways, OPTIONS, CANCEL.
    const inv = request('INVITE', { branch, transport: tr, callId: `c${i}` });
    layer.receive(inv, e);
    const st = user.requests.at(-1)!.server!;
    switch (i % 4) {
      case 0:
        st.respond(buildResponse(inv, 200, { toTag: 't' }));
        break;
      case 1:
        st.respond(buildResponse(inv, 486, { toTag: 't' }));
        layer.receive(request('ACK', { branch, transport: tr, callId: `c${i}`, toTag: 't' }), e);
        break;
      case 2:
        st.respond(buildResponse(inv, 486, { toTag: 't' })); // no ACK: H
        break;
      case 3: {
        st.respond(buildResponse(inv, 180, { toTag: 't' }));
        const cancel = request('CANCEL', { branch, transport: tr, callId: `c${i}` });
        layer.receive(cancel, e);
        const c = user.cancels.at(-1)!;
        c.cancel.respond(buildResponse(cancel, 200, { toTag: 't' }));
        c.invite!.respond(buildResponse(inv, 487, { toTag: 't' }));
        layer.receive(request('ACK', { branch, transport: tr, callId: `c${i}`, toTag: 't' }), e);
        break;
      }
    }
    const opt = request('OPTIONS', { branch: `z9hG4bKopt${i}`, transport: tr, callId: `o${i}` });
    layer.receive(opt, e);
    user.requests.at(-1)!.server!.respond(buildResponse(opt, 200, { toTag: 't' }));
    // Client side: INVITEs ending in 2xx, non-2xx, timeout, timer C + CANCEL; non-INVITEs answered or timing out.
    const ct = layer.request(request('INVITE', { callId: `x${i}` }), dest, h);
    switch (i % 4) {
      case 0:
        layer.receive(reply(ct.request, 200, 'r'), e);
        break;
      case 1:
        layer.receive(reply(ct.request, 603, 'r'), e);
        break;
      case 2:
        break; // B
      case 3:
        layer.receive(reply(ct.request, 180, 'r'), e); // then timer C -> CANCEL (its 200 never comes) -> 408
        break;
    }
    const nct = layer.request(request('OPTIONS', { callId: `y${i}` }), dest, h);
    if (i % 3 !== 0) layer.receive(reply(nct.request, 200, 'r'), e);
  }
  const busy = layer.stats();
  t.true(busy.serverTransactions > 0);
  t.true(busy.clientTransactions > 0);
  t.true(busy.timers > 0);
  // Let every timer run out (timer C 20 s + CANCEL wait 32 s + D 32 s, with margin).
  s.advance(200_000);
  const st = layer.stats();
  t.is(st.serverTransactions, 0);
  t.is(st.clientTransactions, 0);
  t.is(st.timers, 0);
  t.is(wheel.size, 0);
  t.is(st.counters.serverCreated, N * 2 + N / 4); // INVITE + OPTIONS each, plus the CANCELs
  t.is(st.counters.clientCreated, N * 2 + N / 4); // INVITE + OPTIONS each, plus our CANCELs
});
