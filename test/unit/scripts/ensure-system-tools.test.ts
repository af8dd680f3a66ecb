// The tool check asks the system, never PATH: under `npm test` PATH starts with
// node_modules/.bin, which holds an `nft` (from @vercel/nft) that is not nftables.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemCommand, SYSTEM_DIRS, TOOLS } from '../../../scripts/ensure-system-tools.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'ensure-system-tools.mjs');
const NODE_MODULES_NFT = join(ROOT, 'node_modules', '.bin', 'nft');

function fakeBin(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'anysip-fake-bin-'));
  for (const n of names) {
    writeFileSync(join(dir, n), '#!/bin/sh\necho fake\n');
    chmodSync(join(dir, n), 0o755);
  }
  return dir;
}

test('node_modules/.bin holds an nft that is not nftables (the trap this guards against)', (t) => {
  t.true(existsSync(NODE_MODULES_NFT), 'ava depends on @vercel/nft, which installs node_modules/.bin/nft');
});

test('systemCommand never returns a command found only on PATH', (t) => {
  const dir = fakeBin(['anysip-fake-tool', 'nft']);
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${join(ROOT, 'node_modules', '.bin')}:${saved ?? ''}`;
  try {
    t.is(systemCommand('anysip-fake-tool'), undefined);
    const nft = systemCommand('nft');
    t.not(nft, join(dir, 'nft'));
    t.not(nft, NODE_MODULES_NFT);
    if (nft !== undefined) t.true(SYSTEM_DIRS.some((d) => nft.startsWith(`${d}/`)), nft);
  } finally {
    process.env.PATH = saved;
  }
});

test('systemCommand finds an executable in the directories it is given, and skips a non-executable one', (t) => {
  const dir = fakeBin(['anysip-fake-tool']);
  t.is(systemCommand('anysip-fake-tool', [dir]), join(dir, 'anysip-fake-tool'));
  chmodSync(join(dir, 'anysip-fake-tool'), 0o644);
  t.is(systemCommand('anysip-fake-tool', [dir]), undefined);
});

test('--check with every tool faked on PATH reports what the system itself has', (t) => {
  const commands = Object.values(TOOLS).map((x) => x.command);
  const dir = fakeBin(commands);
  const r = spawnSync(process.execPath, [SCRIPT, '--check', ...Object.keys(TOOLS)], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dir}:${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` },
  });
  const out = r.stdout + r.stderr;
  t.false(out.includes(dir), out);
  t.false(out.includes('node_modules'), out);
  for (const tool of Object.keys(TOOLS)) {
    const { command } = TOOLS[tool]!;
    const expected = systemCommand(command);
    if (expected) t.true(out.includes(`${tool}: found (${expected})`), out);
    else t.true(out.includes(`${tool}: MISSING`), out);
  }
  t.is(r.status, commands.every((c) => systemCommand(c) !== undefined) ? 0 : 1);
});
