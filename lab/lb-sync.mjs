#!/usr/bin/env node
// Per-packet mode only: keeps the router's per-host tables and nft spray map in step
// with OSPF (see lib/lb.mjs). Started by lab/up.mjs with a pid file; stopped by lab/down.mjs.
//   node lab/lb-sync.mjs STATE.json

import { readFileSync } from 'node:fs';
import { syncLb } from './lib/lb.mjs';

const state = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const desc = state.desc;
let last;
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));
while (!stopping) {
  try {
    const next = syncLb(desc, last);
    if (!last || next.key !== last.key) console.log(`${new Date().toISOString()} lb-sync: next hops alive: [${next.alive.join(', ')}]`);
    last = next;
  } catch (e) {
    console.error(`${new Date().toISOString()} lb-sync: ${e.message}`);
  }
  await new Promise((r) => setTimeout(r, 250));
}
