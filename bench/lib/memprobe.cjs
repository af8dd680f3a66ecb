// Preloaded into the anysip process by bench/run.ts (node --expose-gc
// --require bench/lib/memprobe.cjs bin/anysip.mjs start ...). It adds nothing
// to the SIP path: on SIGUSR2 it runs a full GC and writes
// process.memoryUsage() as JSON to $ANYSIP_BENCH_MEMFILE, so the bench can read
// the JS heap of the real `anysip start` process from outside.
'use strict';
const { writeFileSync, renameSync } = require('node:fs');

const file = process.env.ANYSIP_BENCH_MEMFILE;
if (file) {
  process.on('SIGUSR2', () => {
    if (typeof global.gc === 'function') {
      global.gc();
      global.gc();
    }
    const m = process.memoryUsage();
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ at: Date.now(), gc: typeof global.gc === 'function', ...m }));
    renameSync(tmp, file);
  });
}
