// The route hook: a user module that sees each initial request and decides.

import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain, freePort, requireSipp, sipp, startNode } from './harness.js';

requireSipp();

test('the route hook can answer, route, fall through, and a failing hook is a 500', async (t) => {
  const proxyPort = await freePort();
  const uasPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'anysip-hook-'));
  const hook = join(dir, 'route.mjs');
  writeFileSync(
    hook,
    `export default async function route(req) {
       if (req.uri.startsWith('sip:blocked@')) return { status: 403, reason: 'Blocked By Hook' };
       if (req.uri.startsWith('sip:hooked@')) return { targets: ['sip:127.0.0.1:${uasPort}'] };
       if (req.uri.startsWith('sip:broken@')) throw new Error('hook bug');
       if (req.header('Call-ID') !== req.callId) throw new Error('header() disagrees with callId');
       return undefined;
     }\n`,
  );
  const node = await startNode(`
node: { id: 6 }
listen: [{ transport: udp, address: 127.0.0.1, port: ${proxyPort} }]
route_hook: ${hook}
admin: { enabled: false }
log: { level: fatal }
`);
  const remote = `127.0.0.1:${proxyPort}`;
  try {
    const blocked = await sipp({ scenario: 'uac-forbidden.xml', remote, localPort: await freePort(), service: 'blocked' }).done;
    t.is(blocked.code, 0, explain(blocked));

    const callee = sipp({ scenario: 'uas-answer.xml', localPort: uasPort });
    await new Promise((r) => setTimeout(r, 300));
    const hooked = await sipp({ scenario: 'uac-call.xml', remote, localPort: await freePort(), service: 'hooked' }).done;
    t.is(hooked.code, 0, explain(hooked));
    t.is((await callee.done).code, 0, explain(callee));

    const broken = await sipp({ scenario: 'uac-server-error.xml', remote, localPort: await freePort(), service: 'broken' }).done;
    t.is(broken.code, 0, explain(broken));

    // No opinion from the hook: the registrar answers 404 for an unknown user.
    const fallthrough = await sipp({ scenario: 'uac-not-found.xml', remote, localPort: await freePort(), service: 'nobody' }).done;
    t.is(fallthrough.code, 0, explain(fallthrough));
  } finally {
    await node.stop();
  }
});
