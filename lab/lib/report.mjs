// A run's report: text (terminal), Markdown and an SVG chart of the per-node distribution.

/** Message types in a readable order: requests first, then responses by code. */
export function typeOrder(types) {
  const req = ['REGISTER', 'INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS'];
  return [...new Set(types)].sort((a, b) => {
    const ra = req.indexOf(a);
    const rb = req.indexOf(b);
    const na = /^\d+$/.test(a);
    const nb = /^\d+$/.test(b);
    if (!na && !nb) return (ra < 0 ? 99 : ra) - (rb < 0 ? 99 : rb) || a.localeCompare(b);
    if (na !== nb) return na ? 1 : -1;
    return Number(a) - Number(b);
  });
}

function allTypes(r) {
  return typeOrder(Object.values(r.nodes).flatMap((n) => Object.keys(n.packets)));
}

const fmtFwd = (f) => (f === 'n/a' || f === undefined ? 'n/a (no anycast layer in this build or config)' : Object.keys(f).length ? Object.entries(f).map(([k, v]) => `${k} ${v}`).join(', ') : '0');

/** Text bar chart: one line per node, total packets received. */
export function textChart(r, width = 40) {
  const totals = Object.entries(r.nodes).map(([name, n]) => [name, n.total]);
  const max = Math.max(1, ...totals.map(([, t]) => t));
  const sum = totals.reduce((s, [, t]) => s + t, 0) || 1;
  return totals
    .map(([name, t]) => `${name.padEnd(4)} ${'#'.repeat(Math.round((t / max) * width)).padEnd(width)} ${String(t).padStart(6)}  ${((100 * t) / sum).toFixed(1).padStart(5)}%`)
    .join('\n');
}

export function textReport(r) {
  const types = allTypes(r);
  const lines = [];
  lines.push(`scenario ${r.scenario.name} (${r.scenario.about}), mode ${r.mode}${r.spray ? ` (${r.spray})` : ''}, ${r.nodeCount} nodes, cluster ${typeof r.cluster === 'string' ? r.cluster : `anycast.mode ${r.cluster.anycastMode}`}, ${r.flows.length} UAC flow(s), ${r.duration_s} s`);
  lines.push(`calls: ${r.calls.ok} ok, ${r.calls.failed} failed (of ${r.calls.requested} requested)${r.uas ? `; UAS: ${r.uas.ok} ok, ${r.uas.failed} failed` : ''}`);
  lines.push('');
  lines.push('packets each node received (tshark on the router\'s node-facing ports; messages addressed to the node\'s anycast or unicast address):');
  const w = Math.max(6, ...types.map((t) => t.length + 1));
  lines.push('node  ' + types.map((t) => t.padStart(w)).join('') + '   total');
  for (const [name, n] of Object.entries(r.nodes)) {
    lines.push(name.padEnd(6) + types.map((t) => String(n.packets[t] ?? 0).padStart(w)).join('') + String(n.total).padStart(8));
  }
  lines.push('');
  lines.push('distribution (packets received):');
  lines.push(textChart(r));
  lines.push('');
  lines.push('sent to owners over the bus (anysip_anycast_bus_sent_total by type) | taken over as owner (anysip_anycast_forwarded_total by kind):');
  for (const [name, n] of Object.entries(r.nodes)) lines.push(`  ${name}: ${fmtFwd(n.forwarded)} | ${fmtFwd(n.takenOver)}`);
  const drops = Object.entries(r.nodes).filter(([, n]) => n.drops && Object.keys(n.drops).length);
  if (drops.length) {
    lines.push('drops counted by nodes:');
    for (const [name, n] of drops) lines.push(`  ${name}: ${Object.entries(n.drops).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  return lines.join('\n');
}

export function markdownReport(r, svgName) {
  const types = allTypes(r);
  let s = `# anysip lab run: ${r.scenario.name}, ${r.mode}, ${r.nodeCount} nodes\n\n`;
  s += `- when: ${r.startedAt}\n- router: ${r.mode}${r.spray ? ` (spray: ${r.spray})` : ''}; cluster: ${typeof r.cluster === 'string' ? r.cluster : `bus on, anycast.mode ${r.cluster.anycastMode}`}\n- scenario: \`${r.scenario.name}\` (${r.scenario.about}); UAC \`${r.scenario.uac}\`, UAS \`${r.scenario.uas}\`, transport ${r.scenario.transport}\n`;
  s += `- calls: **${r.calls.ok} ok, ${r.calls.failed} failed** of ${r.calls.requested}, at ${r.rate} calls/s over ${r.flows.length} UAC flow(s) (source ports ${r.flows.map((f) => `${f.port}${f.node !== '?' ? `→${f.node}` : ''}`).join(', ')})\n`;
  if (r.uas) s += `- UAS in the core: ${r.uas.ok} ok, ${r.uas.failed} failed\n`;
  s += `- duration: ${r.duration_s} s; capture: ${r.capture.frames} SIP frames on the router's node-facing ports\n\n`;
  s += `## Packets each node received, by SIP message type\n\n`;
  s += `Counted on the router's port toward each node (tshark): messages addressed to the node (anycast or its unicast address).\n\n`;
  s += `| node | ${types.join(' | ')} | total | from client | from core |\n|---|${types.map(() => '---:').join('|')}|---:|---:|---:|\n`;
  for (const [name, n] of Object.entries(r.nodes)) {
    const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    s += `| ${name} | ${types.map((t) => n.packets[t] ?? 0).join(' | ')} | ${n.total} | ${sum(n.fromClient)} | ${sum(n.fromCore)} |\n`;
  }
  s += `\n${svgName ? `![per-node distribution](${svgName})\n\n` : ''}\`\`\`\n${textChart(r)}\n\`\`\`\n\n`;
  s += `## Forwarded to owners\n\n`;
  s += `| node | sent to owners over the bus (\`anysip_anycast_bus_sent_total\` by type) | taken over as owner (\`anysip_anycast_forwarded_total\` by kind) |\n|---|---|---|\n`;
  for (const [name, n] of Object.entries(r.nodes)) s += `| ${name} | ${fmtFwd(n.forwarded)} | ${fmtFwd(n.takenOver)} |\n`;
  const drops = Object.entries(r.nodes).filter(([, n]) => n.drops && Object.keys(n.drops).length);
  if (drops.length) {
    s += `\n## Drops counted by the nodes\n\n`;
    for (const [name, n] of drops) s += `- ${name}: ${Object.entries(n.drops).map(([k, v]) => `${k} ${v}`).join(', ')}\n`;
  }
  if (r.failures?.length) {
    s += `\n## Failures (first lines of SIPp's error logs)\n\n\`\`\`\n${r.failures.join('\n').slice(0, 4000)}\n\`\`\`\n`;
  }
  return s;
}

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#86bcb6', '#d37295'];
const esc = (s) => String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);

/** Stacked horizontal bars: one per node, one colour per SIP message type. */
export function svgChart(r) {
  const types = allTypes(r);
  const names = Object.keys(r.nodes);
  const max = Math.max(1, ...names.map((n) => r.nodes[n].total));
  const left = 60;
  const barW = 560;
  const rowH = 34;
  const top = 46;
  const legendY = top + names.length * rowH + 16;
  const perRow = 6;
  const height = legendY + Math.ceil(types.length / perRow) * 20 + 16;
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${left + barW + 90}" height="${height}" font-family="sans-serif" font-size="12">\n`;
  s += `<rect width="100%" height="100%" fill="#fff"/>\n`;
  s += `<text x="10" y="20" font-size="14" font-weight="bold">${esc(`SIP packets received per node: ${r.scenario.name}, ${r.mode}, ${r.calls.ok} ok / ${r.calls.failed} failed`)}</text>\n`;
  names.forEach((name, i) => {
    const y = top + i * rowH;
    s += `<text x="10" y="${y + 17}">${esc(name)}</text>\n`;
    let x = left;
    types.forEach((t, k) => {
      const v = r.nodes[name].packets[t] ?? 0;
      if (!v) return;
      const w = (v / max) * barW;
      s += `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="24" fill="${PALETTE[k % PALETTE.length]}"><title>${esc(`${name} ${t}: ${v}`)}</title></rect>\n`;
      x += w;
    });
    s += `<text x="${(x + 6).toFixed(1)}" y="${y + 17}">${r.nodes[name].total}</text>\n`;
  });
  types.forEach((t, k) => {
    const x = 10 + (k % perRow) * 110;
    const y = legendY + Math.floor(k / perRow) * 20;
    s += `<rect x="${x}" y="${y}" width="12" height="12" fill="${PALETTE[k % PALETTE.length]}"/><text x="${x + 16}" y="${y + 10}">${esc(t)}</text>\n`;
  });
  s += `</svg>\n`;
  return s;
}
