// The `anysip` command: start, parse, status, drain, undrain, reload, ban, location.

import { writeFileSync, rmSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config/index.js';
import { AnysipError } from '../core/errors.js';
import { Node } from '../node/node.js';
import { runParse } from './parse.js';
import { runLocation } from './location.js';
import { runStatus } from './status.js';
import { runDrain } from './drain.js';
import { runReload } from './reload.js';
import { runBan, type BanOptions } from './ban.js';

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('anysip')
    .description('active-active anycast SIP proxy')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('start')
    .description('start a node (no --config: embedded single-node default on 127.0.0.1:5060 udp+tcp)')
    .option('-c, --config <file>', 'YAML config file')
    .option('--check', 'validate the config and exit')
    .option('--pid-file <file>', 'write the process id here while running')
    .action(async (opts: { config?: string; check?: boolean; pidFile?: string }) => {
      const config = loadConfig(opts.config);
      if (opts.check) {
        process.stdout.write(`${opts.config ?? 'embedded default'}: ok\n`);
        return;
      }
      const node = new Node(config);
      // e.g. cluster: this node id is already held by a live node. Exit 3, loudly.
      let fatal: ((err: Error) => void) | undefined;
      let fatalErr: Error | undefined;
      node.onFatal = (err) => {
        fatalErr ??= err;
        fatal?.(err);
      };
      await node.start();
      if (opts.pidFile) writeFileSync(opts.pidFile, `${process.pid}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          node.log.info({ signal }, 'stopping');
          node.stop().finally(() => {
            if (opts.pidFile) rmSync(opts.pidFile, { force: true });
            resolve();
          });
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        process.on('SIGHUP', () => {
          try {
            node.reload();
          } catch (err) {
            node.log.error({ err: (err as Error).message }, 'reload refused, keeping what was loaded');
          }
        });
        fatal = (err) => {
          node.log.fatal({ err: err.message }, 'fatal, stopping');
          process.stderr.write(`anysip: ${err.message}\n`);
          exitCode = 3;
          stop('fatal');
        };
        if (fatalErr) fatal(fatalErr);
      });
    });

  program
    .command('parse')
    .description('parse a SIP message from FILE (or - for stdin) and print it as JSON')
    .argument('<file>')
    .action(async (file: string) => {
      exitCode = await runParse(file, process.stdout, process.stderr);
    });

  program
    .command('status')
    .description("show this node's state, sockets, transactions and counters")
    .option('-c, --config <file>', 'config file (to find the admin endpoint)')
    .option('--admin <host:port>', 'admin endpoint (default from config, else 127.0.0.1:8060)')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; admin?: string; json?: boolean }) => {
      exitCode = await runStatus(opts, process.stdout, process.stderr);
    });

  program
    .command('drain')
    .description('stop taking new calls and withdraw the anycast route; keep serving what the node holds until it is drained')
    .option('-c, --config <file>', 'config file (to find the admin endpoint)')
    .option('--admin <host:port>', 'admin endpoint (default from config, else 127.0.0.1:8060)')
    .option('--wait', 'wait until the node is drained (exit 4 when --timeout passes first)')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', '300')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; admin?: string; json?: boolean; wait?: boolean; timeout?: string }) => {
      exitCode = await runDrain('drain', opts, process.stdout, process.stderr);
    });

  program
    .command('undrain')
    .description('announce the anycast route again and take new calls')
    .option('-c, --config <file>', 'config file (to find the admin endpoint)')
    .option('--admin <host:port>', 'admin endpoint (default from config, else 127.0.0.1:8060)')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; admin?: string; json?: boolean }) => {
      exitCode = await runDrain('undrain', opts, process.stdout, process.stderr);
    });

  /** The options of every command that talks to a node's admin endpoint. */
  const admin = (c: ReturnType<typeof program.command>) =>
    c
      .option('-c, --config <file>', 'config file (to find the admin endpoint)')
      .option('--admin <host:port>', 'admin endpoint (default from config, else 127.0.0.1:8060)')
      .option('--json', 'print JSON');

  admin(program.command('reload').description('read the subscriber file again without a restart (a bad file is refused, the old one stays)')).action(
    async (opts: { config?: string; admin?: string; json?: boolean }) => {
      exitCode = await runReload(opts, process.stdout, process.stderr);
    },
  );

  const ban = program.command('ban').description('sources banned on every node (rate limits, failed authentications, by hand)');
  admin(ban.command('list').description('the bans in force')).action(async (opts: BanOptions) => {
    exitCode = await runBan('list', undefined, opts, process.stdout, process.stderr);
  });
  admin(ban.command('add').description('ban a source address on every node').argument('<source>'))
    .option('--seconds <n>', 'how long', '3600')
    .option('--reason <text>', 'shown in the list')
    .action(async (source: string, opts: BanOptions) => {
      exitCode = await runBan('add', source, opts, process.stdout, process.stderr);
    });
  admin(ban.command('remove').description('lift a ban on every node').argument('<source>')).action(async (source: string, opts: BanOptions) => {
    exitCode = await runBan('remove', source, opts, process.stdout, process.stderr);
  });

  const location = program.command('location').description('the cluster-wide location table, as this node holds it');
  location
    .command('show')
    .description('the bindings of one address-of-record (exit 3 when it has none)')
    .argument('<aor>', 'e.g. sip:alice@example.com')
    .option('-c, --config <file>', 'config file (to find the admin endpoint)')
    .option('--admin <host:port>', 'admin endpoint (default from config, else 127.0.0.1:8060)')
    .option('--json', 'print JSON')
    .action(async (aor: string, opts: { config?: string; admin?: string; json?: boolean }) => {
      exitCode = await runLocation('show', aor, opts, process.stdout, process.stderr);
    });
  location
    .command('dump')
    .description('every binding, one AOR after another')
    .option('-c, --config <file>', 'config file (to find the admin endpoint)')
    .option('--admin <host:port>', 'admin endpoint (default from config, else 127.0.0.1:8060)')
    .option('--json', 'print JSON lines, one AOR each')
    .action(async (opts: { config?: string; admin?: string; json?: boolean }) => {
      exitCode = await runLocation('dump', undefined, opts, process.stdout, process.stderr);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof AnysipError) {
      process.stderr.write(`anysip: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return exitCode;
}
