// End-to-end: real SIPp caller and callee around a real node, over UDP and TCP.

import test from 'ava';
import { explain, freePort, proxyYaml, requireSipp, sipp, startNode } from './harness.js';

requireSipp();

type Transport = 'u1' | 't1';

async function callThrough(uac: string, uas: string, transport: Transport, calls = 5) {
  const proxyPort = await freePort();
  const uasPort = await freePort();
  const uacPort = await freePort();
  const node = await startNode(proxyYaml(proxyPort, uasPort, transport === 't1' ? 'tcp' : 'udp'));
  try {
    const callee = sipp({ scenario: uas, localPort: uasPort, transport, calls });
    await new Promise((r) => setTimeout(r, 300)); // let the UAS bind
    const caller = await sipp({
      scenario: uac,
      remote: `127.0.0.1:${proxyPort}`,
      localPort: uacPort,
      transport,
      calls,
      service: 'service',
    }).done;
    const calleeDone = await Promise.race([callee.done, new Promise((r) => setTimeout(r, 5000)).then(() => undefined)]);
    callee.stop();
    // Every message of a well-behaved call is valid: nothing may have been dropped or rejected on the way.
    const counters = node.metrics.counters();
    return { caller, callee: calleeDone ?? (await callee.done), node, drops: counters.sip_drops_total, parseErrors: counters.sip_parse_errors_total };
  } finally {
    await node.stop();
  }
}

for (const [label, transport] of [['UDP', 'u1'], ['TCP', 't1']] as const) {
  test(`${label}: call through Record-Route with ACK and BYE`, async (t) => {
    const { caller, callee, node, drops, parseErrors } = await callThrough('uac-call.xml', 'uas-answer.xml', transport);
    t.is(caller.code, 0, explain(caller));
    t.is(callee.code, 0, explain(callee));
    t.deepEqual(drops, {});
    t.is(parseErrors, 0);
    const c = node.metrics.counters();
    t.true((c.sip_requests_received_total.INVITE ?? 0) >= 5, 'INVITEs counted');
    t.true((c.sip_requests_received_total.BYE ?? 0) >= 5, 'BYEs counted');
  });

  test(`${label}: CANCEL of a ringing call gets 200, 487 and its ACK`, async (t) => {
    const { caller, callee, node, drops, parseErrors } = await callThrough('uac-cancel.xml', 'uas-cancelled.xml', transport);
    t.is(caller.code, 0, explain(caller));
    t.is(callee.code, 0, explain(callee));
    t.deepEqual(drops, {}, 'the caller ACKed a 487 that carried its own Via');
    t.is(parseErrors, 0);
    // The callee got a CANCEL and an ACK per call, both built by tm: they count as requests sent.
    const sent = node.metrics.counters().sip_requests_sent_total;
    t.true((sent.CANCEL ?? 0) >= 5, `CANCELs sent counted: ${JSON.stringify(sent)}`);
    t.true((sent.ACK ?? 0) >= 5, `ACKs for the 487 counted: ${JSON.stringify(sent)}`);
  });

  test(`${label}: 486 Busy Here is relayed and ACKed hop by hop`, async (t) => {
    const { caller, callee, drops, parseErrors } = await callThrough('uac-busy.xml', 'uas-busy.xml', transport);
    t.is(caller.code, 0, explain(caller));
    t.is(callee.code, 0, explain(callee));
    t.deepEqual(drops, {});
    t.is(parseErrors, 0);
  });
}

test('UDP: REGISTER, then a call to the registered user reaches its contact', async (t) => {
  const proxyPort = await freePort();
  const bobPort = await freePort();
  const regPort = await freePort();
  const uacPort = await freePort();
  // No routes: the only way to reach bob is the location table.
  const node = await startNode(`
node: { id: 3 }
listen: [{ transport: udp, address: 127.0.0.1, port: ${proxyPort} }]
admin: { enabled: false }
log: { level: error }
`);
  try {
    const reg = await sipp({
      scenario: 'register.xml',
      remote: `127.0.0.1:${proxyPort}`,
      localPort: regPort,
      service: 'bob',
      keys: { contact_port: String(bobPort) },
    }).done;
    t.is(reg.code, 0, explain(reg));
    t.is(node.location?.size, 1, 'one contact registered');
    const bob = sipp({ scenario: 'uas-answer.xml', localPort: bobPort, calls: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const caller = await sipp({
      scenario: 'uac-call.xml',
      remote: `127.0.0.1:${proxyPort}`,
      localPort: uacPort,
      service: 'bob',
    }).done;
    t.is(caller.code, 0, explain(caller));
    t.is((await bob.done).code, 0, explain(bob));
  } finally {
    await node.stop();
  }
});

test('UDP: a call to an unregistered user gets 404', async (t) => {
  const proxyPort = await freePort();
  const node = await startNode(`
node: { id: 4 }
listen: [{ transport: udp, address: 127.0.0.1, port: ${proxyPort} }]
admin: { enabled: false }
log: { level: error }
`);
  try {
    const caller = await sipp({
      scenario: 'uac-not-found.xml',
      remote: `127.0.0.1:${proxyPort}`,
      localPort: await freePort(),
      service: 'nobody',
    }).done;
    t.is(caller.code, 0, explain(caller));
  } finally {
    await node.stop();
  }
});

for (const [label, transport] of [['UDP', 'u1'], ['TCP', 't1']] as const) {
  test(`${label}: OPTIONS to the proxy is answered 200 with Allow`, async (t) => {
    const proxyPort = await freePort();
    const node = await startNode(proxyYaml(proxyPort, 9));
    try {
      const run = await sipp({ scenario: 'uac-options.xml', remote: `127.0.0.1:${proxyPort}`, localPort: await freePort(), transport }).done;
      t.is(run.code, 0, explain(run));
    } finally {
      await node.stop();
    }
  });

  test(`${label}: INVITE with Max-Forwards 0 gets 483`, async (t) => {
    const proxyPort = await freePort();
    const node = await startNode(proxyYaml(proxyPort, 9));
    try {
      const run = await sipp({
        scenario: 'uac-max-forwards-0.xml',
        remote: `127.0.0.1:${proxyPort}`,
        localPort: await freePort(),
        transport,
        service: 'service',
      }).done;
      t.is(run.code, 0, explain(run));
    } finally {
      await node.stop();
    }
  });
}

test('UDP: a request routed back to the proxy unchanged is a loop (482); a spiral with a new Request-URI is not', async (t) => {
  const proxyPort = await freePort();
  const uasPort = await freePort();
  const node = await startNode(`
node: { id: 5 }
listen: [{ transport: udp, address: 127.0.0.1, port: ${proxyPort} }]
routes:
  - match: { user_prefix: loop }
    targets: ["sip:loop@127.0.0.1:${proxyPort}"]
  - match: { user_prefix: spiral }
    targets: ["sip:service@127.0.0.1:${proxyPort}"]
  - match: { user_prefix: service }
    targets: ["sip:127.0.0.1:${uasPort}"]
admin: { enabled: false }
log: { level: error }
`);
  try {
    const loop = await sipp({ scenario: 'uac-loop.xml', remote: `127.0.0.1:${proxyPort}`, localPort: await freePort(), service: 'loop' }).done;
    t.is(loop.code, 0, explain(loop));
    const callee = sipp({ scenario: 'uas-answer.xml', localPort: uasPort });
    await new Promise((r) => setTimeout(r, 300));
    const spiral = await sipp({ scenario: 'uac-call.xml', remote: `127.0.0.1:${proxyPort}`, localPort: await freePort(), service: 'spiral' }).done;
    t.is(spiral.code, 0, explain(spiral));
    t.is((await callee.done).code, 0, explain(callee));
  } finally {
    await node.stop();
  }
});
