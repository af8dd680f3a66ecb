// Tried as a new user would: `anysip start` with no config (what `npm start` runs),
// then SIPp registers a user on 127.0.0.1:5060 and calls it through the node.

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain, freePort, requireSipp, sipp } from './harness.js';

requireSipp();

const BIN = join(process.cwd(), 'bin', 'anysip.mjs');

test.serial('the embedded default registers and calls with nothing else configured', async (t) => {
  t.true(existsSync(join(process.cwd(), 'dist', 'cli', 'main.js')), 'npm test builds dist/ first (pretest)');
  const dir = mkdtempSync(join(tmpdir(), 'anysip-embedded-'));
  const pidFile = join(dir, 'anysip.pid');
  const child = spawn(process.execPath, [BIN, 'start', '--pid-file', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
  try {
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    t.true(existsSync(pidFile), `node did not start:\n${logs}`);
    t.is(Number(readFileSync(pidFile, 'utf8')), child.pid ?? -1);
    t.regex(logs, /"msg":"anysip node started"/);

    const bobPort = await freePort();
    const reg = await sipp({
      scenario: 'register.xml',
      remote: '127.0.0.1:5060',
      localPort: await freePort(),
      service: 'bob',
      keys: { contact_port: String(bobPort) },
    }).done;
    t.is(reg.code, 0, explain(reg));
    const bob = sipp({ scenario: 'uas-answer.xml', localPort: bobPort });
    await new Promise((r) => setTimeout(r, 300));
    const alice = await sipp({ scenario: 'uac-call.xml', remote: '127.0.0.1:5060', localPort: await freePort(), service: 'bob' }).done;
    t.is(alice.code, 0, explain(alice));
    t.is((await bob.done).code, 0, explain(bob));

    const status = spawnSync(process.execPath, [BIN, 'status', '--json'], { encoding: 'utf8' });
    t.is(status.status, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { node: { state: string }; registrar: { contacts: number } };
    t.is(s.node.state, 'up');
    t.is(s.registrar.contacts, 1);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
  t.false(existsSync(pidFile), 'pid file removed on shutdown');
});
