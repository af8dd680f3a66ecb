#!/usr/bin/env zx
// Replay the SIP messages a capture sent toward the proxy (UDP datagrams to the anycast
// address), with their original timing, from the client namespace; then compare the
// responses the proxy sends now with those in the capture.
//
//   npx zx lab/replay.mjs FILE.pcap[ng] [--scenario NAME | --uas FILE.xml] [--speed 1] [--wait 5]
//                         [--no-causal] [--json FILE]
//
// The capture may come from lab/run.mjs (--json FILE also saves FILE.pcapng) or from anywhere
// else: messages go out byte-exact from the client address, each from its original source port.
// --scenario/--uas pick the core UAS for the replay (default: the lab's answering UAS); e.g.
// replay a CANCEL capture with --scenario cancel. Responses are compared as sets of
// (Call-ID, CSeq, status code): retransmissions count once. Only UDP is replayed.
// Exit code 0 when every response of the capture came again and no other.

import { argv } from 'zx';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkLock, LAB, RUN, die, ensureDir, log, registerPid, requireRoot, requireUp, rmPid, sh, sleep, stopPid } from './lib/lab.mjs';
import { resolveScenario, startDefaultUas, startRunUas, stopDefaultUas } from './lib/sipp.mjs';
import { spawn } from 'node:child_process';

requireRoot('replay');
checkLock('replay');
const st = requireUp();
const d = st.desc;
const file = argv._[0] ? resolve(String(argv._[0])) : undefined;
if (!file || !existsSync(file)) die(`usage: npx zx lab/replay.mjs FILE.pcap [--scenario NAME|--uas FILE.xml] [--speed 1] [--wait 5]${file ? ` (${file} does not exist)` : ''}`);
const to = { address: String(argv.to ?? d.anycast), port: Number(argv.port ?? d.sipPort) };
const speed = Number(argv.speed ?? 1);
const waitS = Number(argv.wait ?? 5);

/** SIP over UDP in the capture, in either direction of the proxy. */
function extract(filter) {
  const out = sh('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.time_relative', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'udp.payload', '-E', 'separator=/t'], { timeout: 300_000 });
  return out.split('\n').filter(Boolean).map((l) => {
    const [t, src, sport, dst, dport, hex] = l.split('\t');
    return { t: Number(t), src, sport: Number(sport), dst, dport: Number(dport), hex };
  });
}
const requests = extract(`udp && ip.dst == ${to.address} && udp.dstport == ${to.port} && sip`).filter((m) => m.hex);
const responses = extract(`udp && ip.src == ${to.address} && udp.srcport == ${to.port} && sip.Status-Code`).filter((m) => m.hex);
if (requests.length === 0) die(`no SIP over UDP toward ${to.address}:${to.port} in ${file}`);

/** (Call-ID, CSeq, status) of a SIP response, from its text. */
function key(text) {
  const status = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1];
  if (!status) return undefined;
  const hdr = (names) => {
    const m = new RegExp(`^(?:${names})[ \\t]*:[ \\t]*(.*)$`, 'im').exec(text.split(/\r?\n\r?\n/)[0]);
    return m ? m[1].trim() : '';
  };
  return `${hdr('Call-ID|i')} | ${hdr('CSeq').replace(/\s+/g, ' ')} | ${status}`;
}
const hexText = (hex) => Buffer.from(hex, 'hex').toString('latin1');
const expected = new Set(responses.map((r) => key(hexText(r.hex))).filter(Boolean));

log(`replaying ${requests.length} datagrams from ${new Set(requests.map((r) => r.sport)).size} source port(s) over ${(requests.at(-1).t - requests[0].t).toFixed(1)} s (speed ${speed}) toward ${to.address}:${to.port}; the capture has ${expected.size} distinct responses`);

// Causality (default; --no-causal for pure timing): a request is not sent before the replay has
// seen as many distinct responses of its call as the capture had when it was sent (an ACK waits for
// its 200), at most 2 s past its time. Pure open-loop timing lets an ACK overtake its INVITE on a
// path whose delays differ from the captured one's.
const callId = (text) => /^(?:Call-ID|i)[ \t]*:[ \t]*(.*)$/im.exec(text.split(/\r?\n\r?\n/)[0])?.[1]?.trim() ?? '';
const respByCall = new Map();
for (const r of responses) {
  const text = hexText(r.hex);
  const k = key(text);
  if (!k) continue;
  const c = callId(text);
  if (!respByCall.has(c)) respByCall.set(c, new Map());
  const m = respByCall.get(c);
  if (!m.has(k) || m.get(k) > r.t) m.set(k, r.t);
}
const causal = argv.causal !== false;
const job = {
  bind: d.client.address, to, speed, waitS, causal,
  messages: requests.map((r) => {
    const c = callId(hexText(r.hex));
    const after = [...(respByCall.get(c)?.values() ?? [])].filter((t) => t < r.t).length;
    return { t: r.t, sport: r.sport, hex: r.hex, callId: c, after };
  }),
};
ensureDir(join(RUN, 'replay'));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const jobFile = join(RUN, 'replay', `${stamp}-job.json`);
const resFile = join(RUN, 'replay', `${stamp}-result.json`);
writeFileSync(jobFile, JSON.stringify(job));

let uasSwapped = false;
if (argv.scenario || argv.uas) {
  let sc;
  try {
    sc = resolveScenario(String(argv.scenario ?? 'basic'), argv.uas);
  } catch (e) {
    die(e.message);
  }
  await stopDefaultUas();
  startRunUas(d, sc, `replay-${stamp}-uas`);
  uasSwapped = true;
  await sleep(400);
}
const t0 = Date.now();
const child = spawn('ip', ['netns', 'exec', d.client.ns, process.execPath, join(LAB, 'lib', 'replayer.mjs'), jobFile, resFile], { stdio: ['ignore', 'inherit', 'inherit'] });
registerPid('replay', 'replayer.mjs', child.pid);
const code = await new Promise((res) => child.on('close', res));
rmPid('replay');
if (uasSwapped) {
  await stopPid('uas-run', { signal: 'SIGUSR1' });
  startDefaultUas(d);
}
if (code !== 0 || !existsSync(resFile)) die(`the replayer failed (exit ${code})`);
const result = JSON.parse(readFileSync(resFile, 'utf8'));
const got = new Set(result.received.map((r) => key(r.text)).filter(Boolean));
const missing = [...expected].filter((k) => !got.has(k));
const extra = [...got].filter((k) => !expected.has(k));
const matched = [...expected].filter((k) => got.has(k));
const report = {
  capture: file,
  to: `${to.address}:${to.port}`,
  sent: result.sent.length,
  received: result.received.length,
  responses: { expected: expected.size, matched: matched.length, missing, extra },
  causalWaits: result.causalWaits,
  errors: result.errors,
  duration_s: Number(((Date.now() - t0) / 1000).toFixed(1)),
};
console.log(`sent ${report.sent} datagrams, received ${report.received}; responses: ${matched.length}/${expected.size} as in the capture, ${missing.length} missing, ${extra.length} not in the capture`);
for (const m of missing.slice(0, 10)) console.log(`  missing: ${m}`);
for (const m of extra.slice(0, 10)) console.log(`  extra:   ${m}`);
if (result.errors.length) console.log(`errors: ${result.errors.slice(0, 5).join('; ')}`);
if (argv.json) writeFileSync(resolve(String(argv.json)), JSON.stringify(report, null, 2) + '\n');
process.exit(missing.length === 0 && extra.length === 0 && result.errors.length === 0 ? 0 : 1);
