#!/usr/bin/env zx
// Tear the lab down (idempotent): stops every process the lab started (by pid file),
// deletes the anysip-lab-* namespaces with their veths, routes, rules and nft tables,
// and removes the run dir and the rendered lab/quagga/live/.
//
//   npx zx lab/down.mjs

import { checkLock, requireRoot, log } from './lib/lab.mjs';
import { teardown } from './lib/teardown.mjs';

requireRoot('down');
checkLock('down');
const t0 = Date.now();
const r = await teardown();
log(`lab down in ${((Date.now() - t0) / 1000).toFixed(1)} s (${r.namespaces.length} namespaces, ${r.processes.length} processes)`);
