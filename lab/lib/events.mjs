// Things done to the nodes during a run (run.mjs --drain/--undrain/--kill NODE@SECONDS), what the
// router's routing table did meanwhile, and what the capture says happened to the node after each.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, RUN, anycastNexthops, cmdline, log, nsHttpGet, pidAlive, readPid, sh } from './lab.mjs';

export const ACTIONS = ['drain', 'undrain', 'kill'];

/** --drain n2@10 (repeatable, or comma-separated) -> [{action, node, at}] sorted by time. Throws on a bad spec. */
export function parseEvents(argv, d) {
  const out = [];
  for (const action of ACTIONS) {
    const raw = argv[action];
    if (raw === undefined) continue;
    const specs = (Array.isArray(raw) ? raw : [raw]).flatMap((x) => String(x).split(','));
    for (const spec of specs) {
      const m = /^([a-z0-9]+)@(\d+(?:\.\d+)?)$/.exec(spec.trim());
      if (!m) throw new Error(`--${action} ${spec}: expected NODE@SECONDS, e.g. --${action} n2@10`);
      const node = d.nodes.find((n) => n.name === m[1]);
      if (!node) throw new Error(`--${action} ${spec}: no node ${m[1]} (nodes: ${d.nodes.map((n) => n.name).join(', ')})`);
      out.push({ action, node: node.name, at: Number(m[2]) });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/** Run `anysip drain|undrain` inside the node's namespace, as an operator would. */
function anysipCli(n, what) {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', n.ns, process.execPath, join(ROOT, 'bin', 'anysip.mjs'), what, '--admin', `${n.admin.address}:${n.admin.port}`, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code) => {
      let body;
      try {
        body = JSON.parse(out);
      } catch {
        body = undefined;
      }
      resolve({ code, body, stderr: err.trim() });
    });
  });
}

/**
 * Do one event now. Returns what happened (epoch ms): `issued` when the command started, `t` when it
 * took effect (drain/undrain: when the node changed state, i.e. the CLI's answer minus the route
 * command's run time; kill: the signal).
 */
export async function doEvent(d, ev) {
  const n = d.nodes.find((x) => x.name === ev.node);
  const t = Date.now();
  if (ev.action === 'kill') {
    const name = `anysip-${n.name}`;
    const pid = readPid(name);
    if (!pid || !pidAlive(name)) return { ...ev, t, ok: false, error: `no live anysip process for ${n.name} (pid file ${name})` };
    const cl = cmdline(pid);
    process.kill(pid, 'SIGKILL'); // our own node, by its pid file, after checking its command line
    log(`t+${ev.at}s: SIGKILL to ${n.name} (pid ${pid}: ${cl?.slice(0, 80)})`);
    return { ...ev, t, ok: true, pid };
  }
  const r = await anysipCli(n, ev.action);
  const cmd = ev.action === 'drain' ? r.body?.withdraw : r.body?.announce;
  // When the node changed state (same machine, same wall clock): drain says since when it drains; an
  // undrain runs its announce command right after going up. Else: the answer minus the command's time.
  const stamp = ev.action === 'drain' ? Date.parse(r.body?.since ?? '') : Date.parse(cmd?.at ?? '');
  const effective = Number.isFinite(stamp) ? stamp : Date.now() - (cmd?.ms ?? 0);
  log(`t+${ev.at}s: anysip ${ev.action} on ${n.name}: exit ${r.code}, state ${r.body?.state}${cmd ? `, ${ev.action === 'drain' ? 'withdraw' : 'announce'} command ${cmd.ok ? 'ok' : 'FAILED'} in ${cmd.ms} ms` : ''}${r.stderr ? ` (${r.stderr})` : ''}`);
  return { ...ev, issued: t, t: effective, ok: r.code === 0, cliMs: Date.now() - t, state: r.body?.state, command: cmd, ...(r.code !== 0 ? { error: r.stderr } : {}) };
}

/**
 * Watch, every `everyMs`, the router's anycast next hops (OSPF, main table) and, per-packet, the
 * spray tables lb-sync keeps; every 500 ms the nodes' states (admin /status; `dead` when it does
 * not answer). Keeps only the changes.
 */
export function startWatch(d, everyMs = 100) {
  const routes = [];
  const states = [];
  let lastR = '';
  let lastS = '';
  let lastStatesAt = 0;
  const sample = () => {
    const ospf = anycastNexthops(d.router.ns, d.anycast).map((h) => d.nodes.find((n) => n.routerIface === h.dev)?.name ?? h.dev).sort();
    const spray = d.mode === 'per-packet' ? d.nodes.filter((n) => anycastNexthops(d.router.ns, d.anycast, n.table).length > 0).map((n) => n.name) : undefined;
    // Stamped once the tables were read: the change happened by then. A stamp taken before the read
    // (`ip route` takes a few ms) could precede the change, and count a packet the old route still
    // carried as one sent after it (a drain test once saw one INVITE "after" the withdrawal so).
    const t = Date.now();
    const key = JSON.stringify([ospf, spray]);
    if (key !== lastR) {
      routes.push({ t, ospf, ...(spray ? { spray } : {}) });
      lastR = key;
    }
    if (t - lastStatesAt >= 500) {
      lastStatesAt = t;
      const st = {};
      for (const n of d.nodes) {
        const body = nsHttpGet(n.ns, `http://${n.admin.address}:${n.admin.port}/status`, 1);
        try {
          const s = JSON.parse(body);
          st[n.name] = { state: s.node?.state, server: s.transactions?.serverTransactions, client: s.transactions?.clientTransactions };
        } catch {
          st[n.name] = { state: 'dead' };
        }
      }
      const k = JSON.stringify(Object.fromEntries(Object.entries(st).map(([k2, v]) => [k2, v.state])));
      if (k !== lastS) {
        states.push({ t, nodes: st });
        lastS = k;
      }
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { routes, states };
    },
  };
}

/** The watchdogs' actions (RUN/watchdog/NODE.jsonl) between two times. */
export function watchdogEvents(d, from, to) {
  const out = [];
  for (const n of d.nodes) {
    const f = join(RUN, 'watchdog', `${n.name}.jsonl`);
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line);
        if (e.t >= from && e.t <= to) out.push(e);
      } catch {
        // a torn line: skip
      }
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/** SIP messages of the capture with time, interface, addresses, type, Call-ID and CSeq method. */
export function captureMessages(d, file) {
  const out = sh('tshark', ['-r', file, '-Y', 'sip', '-T', 'fields',
    '-e', 'frame.time_epoch', '-e', 'frame.interface_name', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'sip.Call-ID', '-e', 'sip.CSeq.method',
    '-E', 'separator=/t', '-E', 'occurrence=f'], { timeout: 300_000 });
  const byIface = new Map(d.nodes.map((n) => [n.routerIface, n]));
  const msgs = [];
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const [time, iface, src, dst, method, code, callId, cseq] = line.split('\t');
    const n = byIface.get(iface);
    if (!n) continue;
    const toNode = dst === d.anycast || dst === n.address;
    const fromNode = src === d.anycast || src === n.address;
    const dir = toNode ? 'in' : fromNode ? 'out' : '?';
    // The node's side of it: its anycast address (the client side) or its unicast one (the core, peers).
    const side = (dir === 'in' ? dst : src) === d.anycast ? 'anycast' : 'unicast';
    msgs.push({ t: Math.round(Number(time) * 1000), node: n.name, dir, side, type: method || code, callId, cseq });
  }
  return msgs;
}

const add = (o, k, n = 1) => {
  o[k] = (o[k] ?? 0) + n;
};

/**
 * Per event: when the route followed, what the node got after it (before and after the route
 * changed), the new calls it took after it, and for a kill the calls it had in flight.
 */
export function analyseEvents(d, events, watch, msgs, t0, failedCallIds = []) {
  const rel = (t) => (t === undefined ? undefined : Number(((t - t0) / 1000).toFixed(3)));
  return events.map((ev, i) => {
    const next = events.slice(i + 1).find((e) => e.node === ev.node);
    const until = next ? next.t : Infinity;
    const wantPresent = ev.action === 'undrain';
    const has = (r) => r.ospf.includes(ev.node);
    // The first sample, from the moment the command was issued, where the route is as the event wants it.
    const from = ev.issued ?? ev.t;
    const route = watch.routes.find((r) => r.t >= from && has(r) === wantPresent);
    const spray = d.mode === 'per-packet' ? watch.routes.find((r) => r.t >= from && (r.spray ?? []).includes(ev.node) === wantPresent) : undefined;
    const routeAt = route ? route.t : undefined;
    const sprayAt = spray ? spray.t : undefined;
    const effectiveAt = sprayAt ?? routeAt;
    const mine = msgs.filter((m) => m.node === ev.node && m.t >= ev.t && m.t < until);
    const received = { beforeRouteChange: {}, afterRouteChange: {}, fromClientAfterRouteChange: {} };
    for (const m of mine) {
      if (m.dir !== 'in') continue;
      const after = effectiveAt !== undefined && m.t >= effectiveAt;
      add(after ? received.afterRouteChange : received.beforeRouteChange, m.type);
      if (after && m.side === 'anycast') add(received.fromClientAfterRouteChange, m.type);
    }
    // Calls this node proxied (it sent their INVITE to the core): first INVITE per Call-ID.
    const firstInvite = new Map();
    for (const m of msgs) if (m.node === ev.node && m.dir === 'out' && m.side === 'unicast' && m.type === 'INVITE' && !firstInvite.has(m.callId)) firstInvite.set(m.callId, m.t);
    const newCalls = [...firstInvite.values()].filter((t) => t >= ev.t && t < until).length;
    const newCallsLate = [...firstInvite.values()].filter((t) => t >= ev.t + 500 && t < until).length;
    const r = {
      ...ev,
      at_s: ev.at,
      done_s: rel(ev.t),
      routeChange_s: rel(routeAt),
      routeChangeAfter_ms: routeAt !== undefined ? routeAt - ev.t : undefined,
      ...(d.mode === 'per-packet' ? { sprayChange_s: rel(sprayAt), sprayChangeAfter_ms: sprayAt !== undefined ? sprayAt - ev.t : undefined } : {}),
      messagesToNode: received,
      messagesToNodeTotal: mine.filter((m) => m.dir === 'in').length,
      newCallsProxied: newCalls,
      newCallsProxiedAfter500ms: newCallsLate,
    };
    if (ev.action === 'kill') {
      // In flight at the kill: it had sent the INVITE to the core, and had not yet seen the 200 to the BYE.
      const byeDone = new Map();
      for (const m of msgs) if (m.node === ev.node && m.dir === 'in' && m.cseq === 'BYE' && m.type === '200' && !byeDone.has(m.callId)) byeDone.set(m.callId, m.t);
      const answered = new Map();
      for (const m of msgs) if (m.node === ev.node && m.dir === 'in' && m.cseq === 'INVITE' && m.type === '200' && !answered.has(m.callId)) answered.set(m.callId, m.t);
      const inFlight = new Set();
      let dialogs = 0;
      for (const [cid, t] of firstInvite) {
        if (t < ev.t && !(byeDone.get(cid) < ev.t)) {
          inFlight.add(cid);
          if (answered.get(cid) < ev.t) dialogs++;
        }
      }
      r.callsInFlightOnNode = inFlight.size;
      // Of those: the INVITE transaction still open (no 200 yet), or an established dialog whose
      // route set names the node (its unicast Record-Route entry): its BYE must go through it.
      r.inFlightBreakdown = { inviteTransaction: inFlight.size - dialogs, establishedDialog: dialogs };
      // SIPp's failed calls (Call-IDs from its error logs): were they the ones in flight on the dead node?
      r.failedCallsInFlightOnNode = failedCallIds.filter((c) => inFlight.has(c)).length;
      r.failedCallsNotInFlightOnNode = failedCallIds.filter((c) => !inFlight.has(c));
      r.messagesLostToDeadNode = received;
    }
    return r;
  });
}

export function eventsText(r) {
  if (!r.events?.length) return '';
  const lines = ['', 'events (t = seconds since the load started):'];
  for (const e of r.events) lines.push(`  ${eventLine(e)}`);
  for (const w of r.watchdog ?? []) lines.push(`  watchdog ${w.node}: ${w.action} at t=${((w.t - r.t0) / 1000).toFixed(2)}s (${w.reason}) ${w.ok ? 'ok' : 'FAILED'}`);
  lines.push('route changes (router, OSPF next hops of the anycast /32):');
  for (const x of r.routes) lines.push(`  t=${((x.t - r.t0) / 1000).toFixed(2)}s  ${x.ospf.join(' ') || '(none)'}${x.spray ? `  | spray: ${x.spray.join(' ')}` : ''}`);
  return lines.join('\n');
}

function fmtTypes(o) {
  const e = Object.entries(o ?? {});
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

function eventLine(e) {
  let s = `${e.action} ${e.node} at t=${e.done_s}s: ${e.ok ? 'done' : `FAILED (${e.error})`}`;
  if (e.routeChange_s !== undefined) s += `; route ${e.action === 'undrain' ? 'back' : 'withdrawn'} at t=${e.routeChange_s}s (+${e.routeChangeAfter_ms} ms)`;
  else s += `; route never changed`;
  if (e.sprayChange_s !== undefined) s += `, spray at +${e.sprayChangeAfter_ms} ms`;
  s += `; to ${e.node} after it: ${e.messagesToNodeTotal} messages (before the route change: ${fmtTypes(e.messagesToNode.beforeRouteChange)}; after: ${fmtTypes(e.messagesToNode.afterRouteChange)})`;
  s += `; new calls it proxied after it: ${e.newCallsProxied} (${e.newCallsProxiedAfter500ms} after 500 ms)`;
  if (e.action === 'kill') s += `; calls in flight on it at the kill: ${e.callsInFlightOnNode} (INVITE transaction open: ${e.inFlightBreakdown.inviteTransaction}, established dialog record-routed through it: ${e.inFlightBreakdown.establishedDialog}); failed calls among them: ${e.failedCallsInFlightOnNode}, failed calls not in flight on it: ${e.failedCallsNotInFlightOnNode.length}`;
  return s;
}

export function eventsMarkdown(r) {
  if (!r.events?.length) return '';
  let s = `\n## Events\n\nCommand: \`${r.command}\`\n\nTimes are seconds since the load started (t0 = ${new Date(r.t0).toISOString()}).\n\n`;
  s += `| event | done at | route changed at | messages to the node after it (before / after the route change) | from the client side after the route change | new calls it proxied after it (after 500 ms) |${r.events.some((e) => e.action === 'kill') ? ' calls in flight on it at the kill (INVITE sent, BYE not yet answered) |' : ''}\n`;
  s += `|---|---:|---:|---|---|---:|${r.events.some((e) => e.action === 'kill') ? '---:|' : ''}\n`;
  for (const e of r.events) {
    const route = e.routeChange_s !== undefined ? `${e.routeChange_s} s (+${e.routeChangeAfter_ms} ms)${e.sprayChange_s !== undefined ? `; spray +${e.sprayChangeAfter_ms} ms` : ''}` : 'never';
    s += `| ${e.action} ${e.node} | ${e.done_s} s | ${route} | ${e.messagesToNodeTotal}: ${fmtTypes(e.messagesToNode.beforeRouteChange)} / ${fmtTypes(e.messagesToNode.afterRouteChange)} | ${fmtTypes(e.messagesToNode.fromClientAfterRouteChange)} | ${e.newCallsProxied} (${e.newCallsProxiedAfter500ms}) |${e.action === 'kill' ? ` ${e.callsInFlightOnNode}: ${e.inFlightBreakdown.inviteTransaction} INVITE transactions, ${e.inFlightBreakdown.establishedDialog} established dialogs through it (failed: ${e.failedCallsInFlightOnNode}; failed calls not in flight on it: ${e.failedCallsNotInFlightOnNode.length}) |` : r.events.some((x) => x.action === 'kill') ? ' |' : ''}\n`;
  }
  if (r.watchdog?.length) {
    s += `\nWatchdog actions (lab/watchdog.mjs):\n\n`;
    for (const w of r.watchdog) s += `- ${w.node}: ${w.action} at ${((w.t - r.t0) / 1000).toFixed(2)} s (${w.reason}), ${w.ok ? 'ok' : 'FAILED'} in ${w.ms} ms\n`;
  }
  s += `\nRoute changes (router's OSPF next hops for the anycast /32${r.mode === 'per-packet' ? '; spray: the per-host tables lb-sync keeps' : ''}):\n\n| t (s) | next hops |${r.mode === 'per-packet' ? ' spray |' : ''}\n|---:|---|${r.mode === 'per-packet' ? '---|' : ''}\n`;
  for (const x of r.routes) s += `| ${((x.t - r.t0) / 1000).toFixed(2)} | ${x.ospf.join(' ') || '(none)'} |${x.spray ? ` ${x.spray.join(' ')} |` : ''}\n`;
  if (r.nodeStates?.length) {
    s += `\nNode states (admin /status every 500 ms; changes only):\n\n| t (s) | ${Object.keys(r.nodeStates[0].nodes).join(' | ')} |\n|---:|${Object.keys(r.nodeStates[0].nodes).map(() => '---').join('|')}|\n`;
    for (const x of r.nodeStates) s += `| ${((x.t - r.t0) / 1000).toFixed(2)} | ${Object.values(x.nodes).map((v) => (v.state === 'dead' ? 'dead' : `${v.state} (${v.server}/${v.client} txns)`)).join(' | ')} |\n`;
  }
  return s;
}

/** Call-IDs of the calls SIPp counted as failed, from its error logs (-trace_err). */
export function failedCallIds(errorTexts) {
  const ids = new Set();
  for (const text of errorTexts) for (const m of text.matchAll(/(?:Call-ID '|Dead call )([^'\s]+)/g)) ids.add(m[1]);
  return [...ids];
}
