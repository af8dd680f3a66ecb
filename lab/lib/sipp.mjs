// SIPp in the lab's namespaces: the core's UAS, the client's UACs, and reading their statistics.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { LAB, RUN, ensureDir, nsh, registerPid, rmPid, startProcess, stopPid } from './lab.mjs';

export const SCENARIO_DIR = join(LAB, 'scenarios');

/**
 * The core's phone UAS port: where registered users' Contacts point (register-call, register-users,
 * call-users). No static route of the nodes leads there (they send everything else to the core UAS
 * on 5060), and while such a scenario runs nothing answers on 5060: a call only succeeds if the
 * registrar found the binding, a call that misses it fails.
 */
export const PHONE_PORT = 5070;

/** The lab's one digest user (lab/up.mjs --auth writes its subscriber file). */
export const LAB_USER = 'alice';
export const LAB_PASSWORD = 'lab-password-0123';
const labCredentials = () => ['-au', LAB_USER, '-ap', LAB_PASSWORD];

/**
 * Shipped scenarios: UAC and UAS files, transport, Request-URI user (-s) and extra -key values.
 * `needs`: what must hold for every call to pass (shown in reports; see README "The lab").
 */
export const SCENARIOS = {
  basic: { uac: 'uac-call.xml', uas: 'uas-answer.xml', transport: 'u1', service: 'service', about: 'INVITE, 180, 200, ACK, BYE, 200' },
  // The call lasts --hold ms (default 3000; sipp -d): the load of the drain and kill experiments.
  hold: {
    uac: 'uac-call-hold.xml', uas: 'uas-answer.xml', transport: 'u1', service: 'service',
    args: (o) => ['-d', String(o.hold ?? 3000)],
    about: 'INVITE, 180, 200, ACK, the call held --hold ms (default 3000), BYE, 200',
  },
  cancel: { uac: 'uac-cancel.xml', uas: 'uas-cancelled.xml', transport: 'u1', service: 'service', about: 'INVITE, 180, CANCEL, 200, 487, ACK' },
  busy: { uac: 'uac-busy.xml', uas: 'uas-busy.xml', transport: 'u1', service: 'service', about: 'INVITE, 486 Busy Here, ACK (hop by hop)' },
  'register-call': {
    uac: 'uac-register-call.xml', uas: 'uas-answer.xml', transport: 'u1', service: 'alice', uasPort: PHONE_PORT,
    keys: (d) => ({ contact_host: d.core.address, contact_port: String(PHONE_PORT) }),
    about: `REGISTER alice (contact: the core phone UAS, port ${PHONE_PORT}), then call alice via the registrar with another Call-ID`,
  },
  // Users user0..user<calls-1>, one per SIPp call, from a CSV (-inf) per UAC flow. Per-flow, users are
  // dealt to flows by the node the router hashes each flow to: REGISTERs of user k through node
  // k mod N, and (shift 1) the calls to user k through node k+1 mod N, so every call needs a
  // binding another node wrote.
  'register-users': {
    uac: 'uac-register-user.xml', uas: 'uas-answer.xml', transport: 'u1', service: 'user', uasPort: PHONE_PORT, users: { shift: 0 },
    keys: (d) => ({ contact_host: d.core.address, contact_port: String(PHONE_PORT) }),
    about: `REGISTER user0..userN-1 (N = --calls), one REGISTER and Call-ID each, contact: the core phone UAS (port ${PHONE_PORT})`,
  },
  'call-users': {
    uac: 'uac-call-user.xml', uas: 'uas-answer.xml', transport: 'u1', service: 'user', uasPort: PHONE_PORT, users: { shift: 1 },
    about: `call user0..userN-1 (registered by register-users) with fresh Call-IDs, found through the registrar: only the phone UAS (port ${PHONE_PORT}) answers`,
  },
  // With lab/up.mjs --auth (the client is then not trusted).
  'auth-register': {
    uac: 'uac-auth-register.xml', uas: 'uas-answer.xml', transport: 'u1', service: LAB_USER, args: labCredentials,
    about: `REGISTER ${LAB_USER} through the anycast address: 401, the REGISTER again with digest, 200 (needs up.mjs --auth)`,
  },
  'auth-call': {
    uac: 'uac-auth-call.xml', uas: 'uas-answer.xml', transport: 'u1', service: 'service', args: labCredentials,
    about: `${LAB_USER} calls: INVITE, 407, ACK, INVITE with digest, 180, 200, ACK, BYE, 200 (needs up.mjs --auth)`,
  },
  'callee-hangup': { uac: 'uac-callee-hangup.xml', uas: 'uas-hangup.xml', transport: 'u1', service: 'service', about: 'call answered, the callee sends the BYE' },
  'tcp-large': { uac: 'uac-tcp-large.xml', uas: 'uas-answer.xml', transport: 't1', service: 'tcp-large', about: 'INVITE over 1300 bytes on TCP, to a TCP UAS' },
};
export const SCENARIO_ALIASES = { call: 'basic', 486: 'busy', register: 'register-call', hangup: 'callee-hangup', tcp: 'tcp-large' };

/**
 * Deal users 0..count-1 to UAC flows: when the router's hash of every flow is known and spans
 * several nodes, user k goes to a flow of node (k + shift) mod N (round robin among that node's
 * flows); otherwise to flow (k + shift) mod flows. Returns one list of user indices per flow.
 */
export function assignUsers(flows, count, shift = 0) {
  const byNode = new Map();
  flows.forEach((f, i) => {
    if (!byNode.has(f.node)) byNode.set(f.node, []);
    byNode.get(f.node).push(i);
  });
  const nodes = [...byNode.keys()].sort();
  const hashed = nodes.length > 1 && !byNode.has('?');
  const out = flows.map(() => []);
  for (let k = 0; k < count; k++) {
    if (hashed) {
      const list = byNode.get(nodes[(k + shift) % nodes.length]);
      out[list[Math.floor(k / nodes.length) % list.length]].push(k);
    } else {
      out[(k + shift) % flows.length].push(k);
    }
  }
  return out;
}

/** A SIPp -inf file: one user name (user<k>) per line, read in order, one line per call. */
export function writeUsersCsv(file, users, prefix = 'user') {
  writeFileSync(file, ['SEQUENTIAL', ...users.map((k) => `${prefix}${k};`)].join('\n') + '\n');
  return file;
}


/** Resolve --scenario NAME|FILE.xml [--uas FILE.xml] to files and options. */
export function resolveScenario(name, uasOverride, transportOverride, opts = {}) {
  const key = SCENARIO_ALIASES[name] ?? name;
  let sc;
  if (SCENARIOS[key]) {
    const s = SCENARIOS[key];
    sc = { name: key, ...s, uac: join(SCENARIO_DIR, s.uac), uas: join(SCENARIO_DIR, s.uas) };
  } else if (String(name).endsWith('.xml')) {
    const f = resolve(name);
    if (!existsSync(f)) throw new Error(`scenario file ${f} does not exist`);
    sc = { name: f, uac: f, uas: join(SCENARIO_DIR, 'uas-answer.xml'), transport: 'u1', service: 'service', about: 'user scenario' };
  } else {
    throw new Error(`unknown scenario "${name}": one of ${Object.keys(SCENARIOS).join(', ')} or a SIPp XML file`);
  }
  if (uasOverride) {
    sc.uas = resolve(uasOverride);
    if (!existsSync(sc.uas)) throw new Error(`UAS scenario file ${sc.uas} does not exist`);
  }
  if (transportOverride) sc.transport = transportOverride;
  sc.extraArgs = typeof sc.args === 'function' ? sc.args(opts) : [];
  if (sc.extraArgs.length) sc.about = sc.about.replace('--hold ms (default 3000)', `${opts.hold ?? 3000} ms`);
  return sc;
}

function uasArgs(d, scenario, transport, tag, port = d.core.uasPort) {
  return [
    '-sf', scenario, '-i', d.core.address, '-p', String(port), '-t', transport, '-nostdin',
    '-trace_err', '-error_file', join(RUN, 'logs', `${tag}-errors.log`),
    '-trace_stat', '-stf', join(RUN, 'logs', `${tag}-stat.csv`), '-fd', '1',
  ];
}

/** The lab's default UAS in the core: answers every call (UDP) until stopped. */
export function startDefaultUas(d) {
  startProcess({ name: 'uas-default', ns: d.core.ns, cmd: 'sipp', args: uasArgs(d, join(SCENARIO_DIR, 'uas-answer.xml'), 'u1', 'uas-default'), logFile: join(RUN, 'logs', 'uas-default.log'), expect: 'sipp', stdoutToNull: true });
}

export async function stopDefaultUas() {
  await stopPid('uas-default');
}

/** A scenario's own UAS for one run (the default one's address; its port, or the scenario's `uasPort`). */
export function startRunUas(d, sc, tag) {
  startProcess({ name: 'uas-run', ns: d.core.ns, cmd: 'sipp', args: uasArgs(d, sc.uas, sc.transport, tag, sc.uasPort), logFile: join(RUN, 'logs', `${tag}.log`), expect: 'sipp', stdoutToNull: true });
}

/**
 * Start one UAC in the client namespace and resolve when it exits. `inf`: a SIPp -inf CSV file.
 * @returns {Promise<{code, ok, failed, stat, errors, port}>}
 */
export function runUac(d, sc, { port, calls, rate, tag, timeoutS, inf }) {
  ensureDir(join(RUN, 'logs'));
  const stat = join(RUN, 'logs', `${tag}-stat.csv`);
  const err = join(RUN, 'logs', `${tag}-errors.log`);
  const keys = typeof sc.keys === 'function' ? sc.keys(d) : sc.keys ?? {};
  const args = [
    `${d.anycast}:${d.sipPort}`, '-sf', sc.uac, '-i', d.client.address, '-p', String(port), '-t', sc.transport,
    '-m', String(calls), '-r', String(rate), '-s', sc.service,
    '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin',
    '-trace_err', '-error_file', err, '-trace_stat', '-stf', stat, '-fd', '1',
    ...Object.entries(keys).flatMap(([k, v]) => ['-key', k, v]),
    ...(inf ? ['-inf', inf] : []),
    ...(sc.extraArgs ?? []),
  ];
  const child = spawn('ip', ['netns', 'exec', d.client.ns, 'sipp', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  registerPid(tag, 'sipp', child.pid);
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b.toString()));
  return new Promise((res) => {
    child.on('close', (code) => {
      rmPid(tag);
      const s = readStat(stat);
      res({ code, ok: s.ok, failed: s.failed, calls, port, stderr: stderr.trim(), errors: existsSync(err) ? readFileSync(err, 'utf8') : '', statFile: stat });
    });
  });
}

/** Successful and failed call counts from a SIPp -trace_stat CSV (its last line). */
export function readStat(file) {
  if (!existsSync(file)) return { ok: 0, failed: 0, created: 0 };
  const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  if (lines.length < 2) return { ok: 0, failed: 0, created: 0 };
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const col = (n) => Number(last[head.indexOf(n)] ?? 0) || 0;
  return { ok: col('SuccessfulCall(C)'), failed: col('FailedCall(C)'), created: col('TotalCallCreated') };
}

/**
 * Pick UAC source ports so that, per-flow, the router's ECMP hash spreads the flows over
 * every node (the kernel is asked with `ip route get ... ipproto udp sport P`, which uses
 * the same L4 hash as forwarding). Returns [{port, node}] (node: its name, or '?' if unknown).
 */
export function pickPorts(d, flows, proto = 'udp', base = 20000) {
  const want = Math.max(flows, 1);
  const per = Math.ceil(want / d.nodes.length);
  const byNode = new Map(d.nodes.map((n) => [n.name, []]));
  const out = [];
  for (let port = base; port < base + 4000 && out.length < want; port++) {
    const node = hashedNode(d, proto, port);
    if (!node) {
      out.push({ port, node: '?' });
      continue;
    }
    const list = byNode.get(node);
    if (list.length < per) {
      list.push(port);
      out.push({ port, node });
    }
  }
  return out;
}

/** Which node the router forwards a client flow (proto, sport -> anycast:5060) to, per its ECMP hash. */
export function hashedNode(d, proto, sport) {
  const out = nsh(d.router.ns, 'ip', ['-j', 'route', 'get', d.anycast, 'from', d.client.address, 'iif', d.client.routerIface, 'ipproto', proto, 'sport', String(sport), 'dport', String(d.sipPort)], { ok: true });
  try {
    const r = JSON.parse(out)[0];
    return d.nodes.find((n) => n.routerIface === r.dev)?.name;
  } catch {
    return undefined;
  }
}

