import test from 'ava';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

test('the committed generated code is what anysip.proto generates (npm run proto)', (t) => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/gen-proto.mjs'), '--check'], { encoding: 'utf8', cwd: root });
  t.is(r.status, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /up to date/);
});
