#!/usr/bin/env zx
// Render the committed examples from lab/topology.mjs (no root needed, nothing started):
//   lab/quagga/default/<namespace>/{zebra,ospfd}.conf   FRR configs of the default topology
//   lab/gns3/anysip-lab.gns3 + lab/gns3/router-ios.cfg  GNS3 2.2 project and Cisco IOS config
//
//   npx zx lab/render.mjs [--nodes N] [--mode per-packet|per-flow] [--out DIR] [--check]
//
// Defaults: 3 nodes; per-packet for the GNS3/Cisco files (the FRR files do not depend on the mode).
// --check: exit 1 if the committed files differ from what the description renders (the tests do this).

import { argv } from 'zx';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from './topology.mjs';
import { GNS3_ROUTER_CONFIG, ciscoConfig, frrFiles, gns3Project } from './lib/render.mjs';

const LAB = dirname(fileURLToPath(import.meta.url));
const out = resolve(String(argv.out ?? LAB));
const desc = describe({ nodes: argv.nodes === undefined ? 3 : Number(argv.nodes), mode: argv.mode ?? 'per-packet' });

/** Every file this renders, path relative to `out` -> text. */
export function renderAll(d) {
  const files = {};
  for (const [rel, text] of Object.entries(frrFiles(d))) files[join('quagga', 'default', rel)] = text.replaceAll('__LOGDIR__', `/run/anysip-lab/frr/${rel.split('/')[0]}`);
  files[join('gns3', 'anysip-lab.gns3')] = JSON.stringify(gns3Project(d), null, 4) + '\n';
  files[join('gns3', GNS3_ROUTER_CONFIG)] = ciscoConfig(d);
  return files;
}

const files = renderAll(desc);
let stale = 0;
for (const [rel, text] of Object.entries(files)) {
  const p = join(out, rel);
  if (argv.check) {
    const cur = existsSync(p) ? readFileSync(p, 'utf8') : undefined;
    if (cur !== text) {
      stale++;
      console.error(`stale: ${p}`);
    }
    continue;
  }
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  console.log(`wrote ${p}`);
}
if (argv.check) {
  if (stale) {
    console.error(`${stale} file(s) differ from lab/topology.mjs: run npx zx lab/render.mjs`);
    process.exit(1);
  }
  console.log(`${Object.keys(files).length} rendered files match lab/topology.mjs`);
}
