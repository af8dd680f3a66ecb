import test from 'ava';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/index.js';
import { SubscriberFile } from '../../../src/auth/credentials.js';
import { computeHa1 } from '../../../src/auth/digest.js';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../examples');
const files = readdirSync(EXAMPLES).filter((f) => /\.ya?ml$/.test(f));

test('examples/ has YAML files', (t) => {
  t.true(files.includes('single-node.yaml'));
  t.true(files.includes('core-routes.yaml'));
});

for (const f of files) {
  test(`examples/${f} loads`, (t) => {
    const c = loadConfig(join(EXAMPLES, f));
    t.true(c.listen.length > 0);
  });
}

test('core-routes example: routes leave from the unicast core socket, hook resolved', (t) => {
  const c = loadConfig(join(EXAMPLES, 'core-routes.yaml'));
  const core = c.listen.find((l) => l.id === 'core');
  t.is(core?.role, 'unicast');
  t.true(c.routes.every((r) => r.socket === 'core'));
  t.is(c.route_hook, join(EXAMPLES, 'hooks', 'route.mjs'));
  t.is(c.auth.subscribers, join(EXAMPLES, 'auth', 'subscribers.yaml'));
  t.deepEqual(c.auth.trusted, ['10.0.0.0/24']);
});

test('the example subscriber file loads, and its HA1s are those of the password it names', (t) => {
  const file = new SubscriberFile(join(EXAMPLES, 'auth', 'subscribers.yaml'));
  t.is(file.size, 1);
  t.is(file.ha1('alice', 'example.com', 'MD5'), computeHa1('MD5', 'alice', 'example.com', 'secret'));
  t.is(file.ha1('alice', 'EXAMPLE.com', 'SHA-256'), computeHa1('SHA-256', 'alice', 'example.com', 'secret'));
});

test('example route hook answers with targets, a status or nothing', async (t) => {
  // The hook sees a RouteRequest (src/proxy/route-hook.ts): uri is the Request-URI text.
  const hook = (await import(join(EXAMPLES, 'hooks', 'route.mjs'))).default as (req: unknown) => unknown;
  t.deepEqual(hook({ uri: 'sip:112@example.com' }), { targets: ['sip:10.0.0.9:5060;transport=udp'], socket: 'core' });
  t.like(hook({ uri: 'sip:+449001@example.com;user=phone' }) as object, { status: 403 });
  t.is(hook({ uri: 'sip:+4420@example.com' }), undefined);
});
