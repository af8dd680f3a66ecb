import test from 'ava';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/core/errors.js';
import { EMBEDDED_DEFAULT_YAML, EMBEDDED_FILE, loadConfig, parseConfig, validateOnly } from '../../../src/config/index.js';
import type { ListenConfig } from '../../../src/config/index.js';
import type { SocketSpec } from '../../../src/transport/types.js';

const BASE = `node:
  id: 7
listen:
  - id: a
    transport: udp
    address: 127.0.0.1
    port: 5060
`;

/** Parses `yaml` expecting failure; returns the ConfigError. */
function fails(t: import('ava').ExecutionContext, yaml: string, file = 'test.yaml'): ConfigError {
  const err = t.throws(() => parseConfig(yaml, file), { instanceOf: ConfigError });
  return err as ConfigError;
}

test('embedded default: single node on 127.0.0.1:5060 udp+tcp, registrar on, admin on loopback', (t) => {
  const c = loadConfig();
  t.is(c.node.id, 1);
  t.is(c.node.name, 'anysip-1');
  t.true(c.node.branch_secret.length >= 32);
  t.deepEqual(
    c.listen.map((l) => [l.id, l.transport, l.address, l.port, l.role]),
    [
      ['udp', 'udp', '127.0.0.1', 5060, 'anycast'],
      ['tcp', 'tcp', '127.0.0.1', 5060, 'anycast'],
    ],
  );
  t.true(c.registrar.enabled);
  t.deepEqual(c.proxy.domains, []);
  t.deepEqual(c.routes, []);
  t.deepEqual(c.admin, { address: '127.0.0.1', port: 8060, enabled: true });
  t.deepEqual(c.timers, { t1: 500, t2: 4000, t4: 5000, timer_c: 180000 });
  t.is(c.log.level, 'info');
  t.is(c.route_hook, undefined);
  t.deepEqual(parseConfig(EMBEDDED_DEFAULT_YAML, EMBEDDED_FILE).listen, c.listen);
  t.deepEqual(validateOnly(), []);
});

test('branch_secret default is one random value per process', (t) => {
  t.is(loadConfig().node.branch_secret, parseConfig(BASE, 'x.yaml').node.branch_secret);
});

test('in a cluster, branch_secret is derived from cluster.secret, never random', (t) => {
  const clustered = (id: number, secret: string, own = '') =>
    parseConfig(
      `node: {id: ${id}${own ? `, branch_secret: ${own}` : ''}}\nlisten:\n  - {transport: udp, address: 127.0.0.1, port: 5060}\n` +
        `cluster:\n  secret: ${secret}\n  bus: {address: 127.0.0.1, port: 5090}\n`,
      `n${id}.yaml`,
    ).node.branch_secret;
  const secret = 'a-cluster-secret-of-32-characters';
  const expected = createHmac('sha256', secret).update('anysip branch v1').digest('hex');
  t.is(clustered(1, secret), expected);
  t.is(clustered(2, secret), expected, 'every node of the cluster gets the same key');
  t.not(clustered(1, secret), parseConfig(BASE, 'x.yaml').node.branch_secret, 'not the per-process random value');
  t.not(clustered(1, 'another-cluster-secret-entirely'), expected);
  t.is(clustered(1, secret, 'an-explicit-branch-secret'), 'an-explicit-branch-secret');
});

test('minimal file: defaults filled in, listen id defaulted from transport/address/port', (t) => {
  const c = parseConfig(`node: {id: 3}\nlisten:\n  - {transport: tcp, address: "::1", port: 0}\n`, 'min.yaml');
  t.is(c.node.name, 'anysip-3');
  t.is(c.listen[0]!.id, 'tcp-::1-0');
  t.is(c.listen[0]!.role, 'anycast');
  t.is(c.registrar.default_expires, 3600);
  t.is(c.proxy.max_forwards, 70);
  t.is(c.transport.max_message_size, 65535);
  t.is(c.admin.port, 8060);
});

test('empty values fall back to defaults (commented-out section)', (t) => {
  const c = parseConfig(BASE + 'routes:\nregistrar:\n  # min_expires: 10\n', 'x.yaml');
  t.deepEqual(c.routes, []);
  t.is(c.registrar.min_expires, 60);
});

test('a listen entry fits the transport layer SocketSpec', (t) => {
  const spec: SocketSpec = parseConfig(BASE, 'x.yaml').listen[0] satisfies ListenConfig;
  t.is(spec.id, 'a');
});

test('domains are lower-cased', (t) => {
  const c = parseConfig(BASE + 'proxy: {domains: [Example.COM]}\nroutes:\n  - {match: {domain: EXAMPLE.com}, targets: ["sip:gw"]}\n', 'x.yaml');
  t.deepEqual(c.proxy.domains, ['example.com']);
  t.is(c.routes[0]!.match.domain, 'example.com');
  t.is(c.routes[0]!.strategy, 'parallel');
});

test('unknown key is named with its path, file and a suggestion', (t) => {
  const err = fails(t, BASE + '    prot: 5070\n', 'conf/anysip.yaml');
  t.is(err.file, 'conf/anysip.yaml');
  t.is(err.key, 'listen[0].prot');
  t.regex(err.message, /^conf\/anysip\.yaml: listen\[0\]\.prot: unknown key; did you mean "port"\? \(line 8\)$/);
});

test('unknown top-level key', (t) => {
  const err = fails(t, BASE + 'registar: {enabled: false}\n');
  t.is(err.key, 'registar');
  t.regex(err.message, /did you mean "registrar"/);
});

test('wrong type names key and what was given', (t) => {
  const err = fails(t, BASE.replace('port: 5060', 'port: "5060"'));
  t.is(err.key, 'listen[0].port');
  t.regex(err.message, /^test\.yaml: listen\[0\]\.port: expected a number, got the string "5060" \(line 7\)$/);

  const err2 = fails(t, BASE + 'proxy: {record_route: yes}\n');
  t.is(err2.key, 'proxy.record_route');
  t.regex(err2.message, /expected true or false/);
});

test('port out of range', (t) => {
  const err = fails(t, BASE.replace('port: 5060', 'port: 65536'));
  t.is(err.message, 'test.yaml: listen[0].port: must be <= 65535 (got 65536) (line 7)');
  t.is(fails(t, BASE + 'admin: {port: -1}\n').key, 'admin.port');
});

test('bad enum value lists the choices', (t) => {
  const err = fails(t, BASE.replace('transport: udp', 'transport: sctp'));
  t.is(err.key, 'listen[0].transport');
  t.regex(err.message, /must be one of udp, tcp, ws/);
});

test('address must be an IP literal', (t) => {
  t.is(fails(t, BASE.replace('127.0.0.1', 'localhost')).key, 'listen[0].address');
});

test('missing required keys', (t) => {
  t.is(fails(t, 'listen: []\n').key, 'node');
  t.is(fails(t, 'node: {id: 1}\n').key, 'listen');
  const err = fails(t, 'node: {id: 1}\nlisten: []\n');
  t.is(err.key, 'listen');
  t.regex(err.message, /at least one/);
  t.is(fails(t, 'node:\n  id:\nlisten: [{transport: udp, address: 127.0.0.1, port: 1}]\n').message, 'test.yaml: node.id: has no value (required) (line 2)');
});

test('duplicate listen id', (t) => {
  const err = fails(t, BASE + '  - id: a\n    transport: tcp\n    address: 127.0.0.1\n    port: 5060\n');
  t.is(err.key, 'listen[1].id');
  t.regex(err.message, /duplicate id "a" \(also listen\[0\]\)/);
});

test('duplicate bind (tcp and ws share the TCP port space)', (t) => {
  const err = fails(t, BASE + '  - {transport: tcp, address: 127.0.0.1, port: 5061}\n  - {transport: ws, address: 127.0.0.1, port: 5061}\n');
  t.is(err.key, 'listen[2]');
  // Same port, different transports on different kernel protocols: fine.
  t.notThrows(() => parseConfig(BASE + '  - {transport: tcp, address: 127.0.0.1, port: 5060}\n', 'x.yaml'));
  // Ephemeral ports never collide.
  t.notThrows(() => parseConfig(BASE + '  - {transport: udp, address: 127.0.0.1, port: 0}\n  - {transport: udp, address: 127.0.0.2, port: 0}\n', 'x.yaml'));
});

test('route socket must be a listen id', (t) => {
  const err = fails(t, BASE + 'routes:\n  - targets: ["sip:10.0.0.5"]\n    socket: core\n');
  t.is(err.key, 'routes[0].socket');
  t.regex(err.message, /no listen socket with id "core" \(known: "a"\)/);
  t.is(parseConfig(BASE + 'routes:\n  - targets: ["sip:10.0.0.5"]\n    socket: a\n', 'x.yaml').routes[0]!.socket, 'a');
});

test('route targets are checked as sip/sips URIs', (t) => {
  const err = fails(t, BASE + 'routes:\n  - targets:\n      - "sip:10.0.0.5:5060;transport=udp"\n      - "sips:[::1]:5061"\n      - "http://10.0.0.5"\n');
  t.is(err.key, 'routes[0].targets[2]');
  t.is(fails(t, BASE + 'routes:\n  - targets: ["sip:gw:99999"]\n').key, 'routes[0].targets[0]');
  t.is(fails(t, BASE + 'routes:\n  - targets: ["sip:alice@"]\n').key, 'routes[0].targets[0]');
  t.is(fails(t, BASE + 'routes:\n  - targets: []\n').key, 'routes[0].targets');
});

test('t1 > t2 is refused', (t) => {
  const err = fails(t, BASE + 'timers: {t1: 5000, t2: 4000}\n');
  t.is(err.key, 'timers.t1');
  t.regex(err.message, /must be <= timers\.t2 \(5000 > 4000\)/);
});

test('registrar expiry ordering', (t) => {
  t.is(fails(t, BASE + 'registrar: {min_expires: 4000}\n').key, 'registrar.min_expires');
  t.is(fails(t, BASE + 'registrar: {default_expires: 9000}\n').key, 'registrar.default_expires');
});

test('bad YAML syntax names the file and line', (t) => {
  const err = fails(t, 'node:\n  id: 1\nlisten: [\n  {transport: udp\n', 'broken.yaml');
  t.is(err.file, 'broken.yaml');
  t.regex(err.key, /^line \d+$/);
  t.regex(err.message, /^broken\.yaml: line \d+: YAML syntax error: /);
  const dup = fails(t, 'node:\n  id: 1\n  id: 2\n', 'dup.yaml');
  t.is(dup.message.split(':').slice(0, 2).join(':'), 'dup.yaml: line 3');
});

test('the first error reported is the first in the file', (t) => {
  const yaml = 'node: {id: 0}\nlisten:\n  - {transport: udp, address: 127.0.0.1, port: 99999}\n';
  t.is(fails(t, yaml).key, 'node.id');
  const all = validateOnly(writeTemp('many.yaml', yaml));
  t.deepEqual(all.map((e) => e.key), ['node.id', 'listen[0].port']);
});

function writeTemp(name: string, text: string, dir = mkdtempSync(join(tmpdir(), 'anysip-cfg-'))): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('route_hook is resolved against the config file folder and must exist', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-cfg-'));
  writeTemp('hook.mjs', 'export default () => undefined;\n', dir);
  const file = writeTemp('anysip.yaml', BASE + 'route_hook: ./hook.mjs\n', dir);
  t.is(loadConfig(file).route_hook, join(dir, 'hook.mjs'));

  const bad = writeTemp('anysip.yaml', BASE + 'route_hook: ./nope.mjs\n', dir);
  const err = t.throws(() => loadConfig(bad), { instanceOf: ConfigError })!;
  t.is(err.message, `${bad}: route_hook: no such file: ${join(dir, 'nope.mjs')} (line 8)`);
});

test('unreadable file is a ConfigError naming it', (t) => {
  const err = t.throws(() => loadConfig('/nonexistent/anysip.yaml'), { instanceOf: ConfigError })!;
  t.is(err.file, '/nonexistent/anysip.yaml');
  t.regex(err.message, /cannot read/);
  t.is(validateOnly('/nonexistent/anysip.yaml').length, 1);
});
