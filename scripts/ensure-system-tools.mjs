#!/usr/bin/env node
// Makes sure the system tools the tests need are installed (Debian/Ubuntu).
//
//   node scripts/ensure-system-tools.mjs                 every tool the test suite needs (the default)
//   node scripts/ensure-system-tools.mjs sipp frr tshark tools by name (or command name)
//   ANYSIP_TOOLS="frr nftables" node scripts/...         same, from the environment
//   node scripts/ensure-system-tools.mjs --check ...     report only, never install
//
// As root, missing tools are installed with apt-get; otherwise the script
// names the packages to install and exits 1, so `npm test` fails loudly
// instead of skipping the end-to-end tests.
//
// A tool is present when its command is an executable file in one of the
// system's own directories. PATH is never consulted: under `npm test` it
// starts with node_modules/.bin, where ava's dependency @vercel/nft installs a
// command named `nft` that would pass for nftables.
// Plain Node ESM without dependencies: it runs before `npm install` results are trusted.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tool name -> the command that proves it is installed and the Debian package providing it. */
export const TOOLS = {
  sipp: { command: 'sipp', pkg: 'sip-tester' },
  frr: { command: 'vtysh', pkg: 'frr' },
  nftables: { command: 'nft', pkg: 'nftables' },
  tshark: { command: 'tshark', pkg: 'tshark' },
  iproute2: { command: 'ip', pkg: 'iproute2' },
  sipvicious: { command: 'svwar', pkg: 'sipvicious' },
};
/** What `npm test` needs: SIPp and SIPVicious (the attacks on src/auth) for the end-to-end tests, the rest for the lab. */
export const DEFAULT_TOOLS = ['sipp', 'frr', 'nftables', 'tshark', 'iproute2', 'sipvicious'];
/** Where Debian (and a local install) put commands; never node_modules/.bin. */
export const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of `command` among the system directories, or undefined. */
export function systemCommand(command, dirs = SYSTEM_DIRS) {
  for (const dir of dirs) {
    const p = join(dir, command);
    try {
      if (!statSync(p).isFile()) continue; // a /dev/null bind-mounted over a binary hides it
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

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

function run(cmd, args, env) {
  console.log(`ensure-system-tools: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

function main() {
  const args = process.argv.slice(2);
  const checkOnly = args.includes('--check');
  const names = args.filter((a) => a !== '--check');
  const requested = names.length > 0 ? names : (process.env.ANYSIP_TOOLS ?? '').split(/[\s,]+/).filter(Boolean);
  const tools = [...new Set((requested.length > 0 ? requested : DEFAULT_TOOLS).map(lookup))];

  const missing = [];
  for (const tool of tools) {
    const path = systemCommand(TOOLS[tool].command);
    if (path) console.log(`${tool}: found (${path})`);
    else missing.push(tool);
  }
  if (missing.length === 0) return;

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
  const aptGet = systemCommand('apt-get');
  if (!aptGet) fail(`missing ${missing.join(', ')} and apt-get is not available; install packages ${pkgs.join(' ')} by hand`);

  const t0 = Date.now();
  run(aptGet, ['update']);
  // --reinstall: a package can be registered as installed while its binary is gone.
  run(aptGet, ['install', '-y', '--reinstall', '--no-install-recommends', ...pkgs], { DEBIAN_FRONTEND: 'noninteractive' });

  for (const tool of missing) {
    const { command, pkg } = TOOLS[tool];
    const path = systemCommand(command);
    if (!path) fail(`${tool}: package ${pkg} installed but command "${command}" still not found in ${SYSTEM_DIRS.join(' ')}`);
    console.log(`${tool}: installed (${pkg}, ${path})`);
  }
  console.log(`ensure-system-tools: installed ${pkgs.join(' ')} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
