#!/usr/bin/env node
// Makes sure the system tools the tests need are installed (Debian/Ubuntu).
//
//   node scripts/ensure-system-tools.mjs                 sipp only (the default)
//   node scripts/ensure-system-tools.mjs sipp frr tshark tools by name (or command name)
//   ANYSIP_TOOLS="frr nftables" node scripts/...         same, from the environment
//   node scripts/ensure-system-tools.mjs --check ...     report only, never install
//
// As root, missing tools are installed with apt-get; otherwise the script
// names the packages to install and exits 1, so `npm test` fails loudly
// instead of skipping the end-to-end tests.
// Plain Node ESM without dependencies: it runs before `npm install` results are trusted.

import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** tool name -> the command that proves it is installed and the Debian package providing it. */
const TOOLS = {
  sipp: { command: 'sipp', pkg: 'sip-tester' },
  frr: { command: 'vtysh', pkg: 'frr' },
  nftables: { command: 'nft', pkg: 'nftables' },
  tshark: { command: 'tshark', pkg: 'tshark' },
  iproute2: { command: 'ip', pkg: 'iproute2' },
};
const DEFAULT_TOOLS = ['sipp'];

function fail(message) {
  console.error(`\n*** ensure-system-tools: ${message}\n`);
  process.exit(1);
}

/** Accepts a tool name (frr) or its command name (vtysh). */
function lookup(name) {
  if (Object.hasOwn(TOOLS, name)) return name;
  const byCommand = Object.keys(TOOLS).find((t) => TOOLS[t].command === name);
  if (byCommand) return byCommand;
  fail(`unknown tool "${name}"; known: ${Object.keys(TOOLS).join(', ')}`);
}

function which(command) {
  // sbin directories are often missing from a non-root PATH, yet ip and nft live there.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, command);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function run(cmd, args, env) {
  console.log(`ensure-system-tools: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

const args = process.argv.slice(2);
const checkOnly = args.includes('--check');
const names = args.filter((a) => a !== '--check');
const requested = names.length > 0 ? names : (process.env.ANYSIP_TOOLS ?? '').split(/[\s,]+/).filter(Boolean);
const tools = [...new Set((requested.length > 0 ? requested : DEFAULT_TOOLS).map(lookup))];

const missing = [];
for (const tool of tools) {
  const { command, pkg } = TOOLS[tool];
  const path = which(command);
  if (path) console.log(`${tool}: found (${path})`);
  else missing.push(tool);
}
if (missing.length === 0) process.exit(0);

const pkgs = missing.map((t) => TOOLS[t].pkg);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (checkOnly || !isRoot) {
  for (const t of missing) console.error(`${t}: MISSING (command "${TOOLS[t].command}", Debian package ${TOOLS[t].pkg})`);
  fail(
    `missing system tools: ${missing.join(', ')}.\n` +
      `    Install them with:  sudo apt-get install -y ${pkgs.join(' ')}\n` +
      `    (or re-run this script as root to install them automatically)`,
  );
}
if (!which('apt-get')) fail(`missing ${missing.join(', ')} and apt-get is not available; install packages ${pkgs.join(' ')} by hand`);

run('apt-get', ['update']);
run('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { DEBIAN_FRONTEND: 'noninteractive' });

for (const tool of missing) {
  const { command, pkg } = TOOLS[tool];
  const path = which(command);
  if (!path) fail(`${tool}: package ${pkg} installed but command "${command}" still not found`);
  console.log(`${tool}: installed (${pkg}, ${path})`);
}
