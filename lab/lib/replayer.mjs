#!/usr/bin/env node
// Runs inside the client namespace (started by lab/replay.mjs): sends each captured UDP
// payload from its original source port at its original time offset, and records every
// datagram that comes back.   node lab/lib/replayer.mjs JOB.json RESULT.json
// JOB: { bind, to: {address, port}, speed, waitS, causal, messages: [{t, sport, hex, callId, after}] }
// causal: a message waits (at most 2 s) until `after` distinct responses of its call have come.

import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const resultFile = process.argv[3];
const sockets = new Map();
const received = [];
const sent = [];
const errors = [];
const t0 = Date.now();
/** Distinct responses received per Call-ID (for causal sending). */
const seen = new Map();
const causalWaits = { waited: 0, gaveUp: 0 };
const callIdOf = (text) => /^(?:Call-ID|i)[ \t]*:[ \t]*(.*)$/im.exec(text.split(/\r?\n\r?\n/)[0])?.[1]?.trim() ?? '';
function note(text) {
  const status = /^SIP\/2\.0 (\d{3})/.exec(text)?.[1];
  if (!status) return;
  const cseq = /^CSeq[ \t]*:[ \t]*(.*)$/im.exec(text)?.[1]?.trim().replace(/\s+/g, ' ') ?? '';
  const c = callIdOf(text);
  if (!seen.has(c)) seen.set(c, new Set());
  seen.get(c).add(`${cseq}|${status}`);
}

async function socketFor(port) {
  let s = sockets.get(port);
  if (s) return s;
  s = createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    const text = msg.toString('latin1');
    received.push({ t: (Date.now() - t0) / 1000, port, from: `${rinfo.address}:${rinfo.port}`, text });
    note(text);
  });
  s.on('error', (e) => errors.push(`port ${port}: ${e.message}`));
  await new Promise((res, rej) => {
    s.once('error', rej);
    s.bind(port, job.bind, () => {
      s.off('error', rej);
      res();
    });
  });
  sockets.set(port, s);
  return s;
}

// Bind every source port first so that no response is missed.
for (const p of new Set(job.messages.map((m) => m.sport))) {
  try {
    await socketFor(p);
  } catch (e) {
    errors.push(`cannot bind ${job.bind}:${p}: ${e.message}`);
  }
}
const first = job.messages.length ? job.messages[0].t : 0;
for (const m of job.messages) {
  const due = ((m.t - first) / job.speed) * 1000;
  const wait = due - (Date.now() - t0);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  if (job.causal && m.after > 0 && (seen.get(m.callId)?.size ?? 0) < m.after) {
    causalWaits.waited++;
    const until = Date.now() + 2000;
    while (Date.now() < until && (seen.get(m.callId)?.size ?? 0) < m.after) await new Promise((r) => setTimeout(r, 2));
    if ((seen.get(m.callId)?.size ?? 0) < m.after) causalWaits.gaveUp++;
  }
  const s = sockets.get(m.sport);
  if (!s) continue;
  const buf = Buffer.from(m.hex, 'hex');
  await new Promise((res) => s.send(buf, job.to.port, job.to.address, (err) => {
    if (err) errors.push(`send from ${m.sport}: ${err.message}`);
    res();
  }));
  sent.push({ t: (Date.now() - t0) / 1000, sport: m.sport });
}
await new Promise((r) => setTimeout(r, job.waitS * 1000));
for (const s of sockets.values()) s.close();
writeFileSync(resultFile, JSON.stringify({ sent, received, errors, causalWaits }));
