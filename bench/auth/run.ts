// What digest authentication costs a REGISTER (issue 13), side by side in one run, as ratios to
// parsing the REGISTER itself (what every request costs anyway):
//   parse       parseMessage of a REGISTER with an Authorization header
//   challenge   the 401: a nonce issued, two WWW-Authenticate values
//   verify-md5  parse the credentials, check the response, the nonce and its nonce-count (MD5)
//   verify-sha  the same with SHA-256
//   wrong-pass  a known user with a wrong password (403)
//   unknown     an unknown user (403): must cost what wrong-pass costs, or timing tells users apart
// Run: npx tsx bench/auth/run.ts [--ms 1000]. Writes nothing: paste what it prints into
// bench/auth/RESULTS.md with the command.

import { createHash } from 'node:crypto';
import { Authenticator } from '../../src/auth/authenticator.js';
import type { CredentialStore } from '../../src/auth/credentials.js';
import { computeHa1, type DigestAlgorithm } from '../../src/auth/digest.js';
import { NonceCodec } from '../../src/auth/nonce.js';
import { parseMessage } from '../../src/sip/parser.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MS = arg('ms', 1000);

// As SubscriberFile holds them: HA1s computed once, looked up per request.
const HA1 = new Map(['MD5', 'SHA-256'].map((alg) => [`alice\nexample.com\n${alg}`, computeHa1(alg as DigestAlgorithm, 'alice', 'example.com', 'wonderland')]));
const store: CredentialStore = {
  ha1: (user, realm, alg) => HA1.get(`${user}\n${realm}\n${alg}`),
  size: 1,
};
const now = () => Date.now();
const nonces = new NonceCodec('bench-secret-0123456789', 1, 7, now);
const auth = new Authenticator({ algorithms: ['MD5', 'SHA-256'], nonce_expires: 300, max_nonces: 1_000_000 }, store, nonces, now);

function register(alg: DigestAlgorithm, nonce: string, nc: number, user = 'alice', password = 'wonderland'): Buffer {
  const H = (s: string) => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
  const ncHex = nc.toString(16).padStart(8, '0');
  const response = H(`${H(`${user}:example.com:${password}`)}:${nonce}:${ncHex}:c0ffee:auth:${H('REGISTER:sip:example.com')}`);
  return Buffer.from(
    'REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-bench\r\nMax-Forwards: 70\r\n' +
      'From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: bench-1\r\nCSeq: 2 REGISTER\r\n' +
      'Contact: <sip:alice@198.51.100.7:5060>\r\nExpires: 3600\r\n' +
      `Authorization: Digest username="${user}", realm="example.com", nonce="${nonce}", uri="sip:example.com", response="${response}", algorithm=${alg}, qop=auth, nc=${ncHex}, cnonce="c0ffee"\r\n` +
      'Content-Length: 0\r\n\r\n',
  );
}

/** Operations per second of `fn` over MS milliseconds (after a short warm-up). */
function rate(fn: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) fn(i);
  let n = 0;
  const end = performance.now() + MS;
  while (performance.now() < end) for (let k = 0; k < 100; k++) fn(n++);
  return n / (MS / 1000);
}

// Requests prepared up front, one nonce-count each, so every verification is a first use (accepted).
// Each round starts again at nonce-count 1 with fresh nonces (prepared anew below), so no use is a replay.
const N = 200_000;
const prepared = (alg: DigestAlgorithm) => {
  const nonce = nonces.issue(300);
  return Array.from({ length: N }, (_, i) => parseMessage(register(alg, nonce, i + 1)));
};
let md5 = prepared('MD5');
let sha = prepared('SHA-256');
const text = register('MD5', nonces.issue(300), 1);
const wrong = parseMessage(register('MD5', nonces.issue(300), 1, 'alice', 'guess'));
const unknown = parseMessage(register('MD5', nonces.issue(300), 1, 'mallory', 'wonderland'));

let ok = 0;
let next = 0;
const cases: Record<string, (i: number) => void> = {
  parse: () => void parseMessage(text).get('authorization'),
  // Credentials for another realm: the request is challenged (a nonce and two challenge values).
  challenge: () => void auth.authenticate(md5[0]!, 'registrar', 'other.example'),
  'verify-md5': () => void (auth.authenticate(md5[next++ % N]!, 'registrar', 'example.com').kind === 'ok' && ok++),
  'verify-sha': () => void (auth.authenticate(sha[next++ % N]!, 'registrar', 'example.com').kind === 'ok' && ok++),
  'wrong-pass': () => void auth.authenticate(wrong, 'registrar', 'example.com'),
  unknown: () => void auth.authenticate(unknown, 'registrar', 'example.com'),
};
// Two rounds in turn, the better of each: the order in which V8 warms up is not the figure.
const results: Record<string, number> = {};
for (let round = 0; round < 2; round++) {
  for (const [name, fn] of Object.entries(cases)) {
    if (name.startsWith('verify')) next = 0;
    results[name] = Math.max(results[name] ?? 0, rate(fn));
  }
  if (round === 0) {
    md5 = prepared('MD5');
    sha = prepared('SHA-256');
    ok = 0;
  }
}
const base = results.parse;
for (const [name, r] of Object.entries(results)) console.log(`${name.padEnd(11)} ${Math.round(r).toString().padStart(9)} /s  ${(1e6 / r).toFixed(2).padStart(7)} us  ${(base / r).toFixed(2)}x parse`);
console.log(`accepted verifications in the last round: ${ok} (each a first use of its nonce-count)`);
console.log(`unknown user / wrong password: ${(results['wrong-pass']! / results.unknown!).toFixed(2)}x the time`);
