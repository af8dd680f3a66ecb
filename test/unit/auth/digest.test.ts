import test from 'ava';
import { createRequire } from 'node:module';
import {
  ALGORITHMS,
  MAX_VALUE_LENGTH,
  challengeValue,
  computeHa1,
  expectedResponse,
  parseCredentials,
  parseDigestParams,
  responseMatches,
  type DigestCredentials,
} from '../../../src/auth/digest.js';

// The npm `sip` package's digest code, an independent MD5 implementation.
const sipDigest = createRequire(import.meta.url)('sip/digest.js') as {
  calculateUserRealmPasswordHash(user: string, realm: string, password: string): string;
  calculateDigest(ctx: Record<string, string | undefined>): string;
};

function credentialsOf(value: string): DigestCredentials {
  const r = parseCredentials(value);
  if (!('credentials' in r)) throw new Error(`expected credentials, got ${r.problem}`);
  return r.credentials;
}

function problemOf(value: string): string | undefined {
  const r = parseCredentials(value);
  return 'problem' in r ? r.problem : undefined;
}

// RFC 2617 section 3.5, line breaks as in the RFC turned into spaces.
const RFC2617 =
  'Digest username="Mufasa", realm="testrealm@host.com", ' +
  'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, ' +
  'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", ' +
  'opaque="5ccc069c403ebaf9f0171e9517f40e41"';

// RFC 7616 section 3.9.1.
const RFC7616_SHA256 =
  'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", ' +
  'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ' +
  'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, ' +
  'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", ' +
  'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
const RFC7616_MD5 = RFC7616_SHA256.replace('algorithm=SHA-256', 'algorithm=MD5').replace(
  /response="[0-9a-f]+"/,
  'response="8ca523f5e9506fed4657c9700eebdbec"',
);

/** A well-formed MD5 header for the parser tests, params overridable. */
function header(overrides: Record<string, string | null> = {}): string {
  const params: Record<string, string | null> = {
    username: '"alice"',
    realm: '"example.com"',
    nonce: '"n0nce"',
    uri: '"sip:example.com"',
    response: `"${'a'.repeat(32)}"`,
    qop: 'auth',
    nc: '00000001',
    cnonce: '"c0"',
    ...overrides,
  };
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([k, v]) => `${k}=${v}`);
  return `Digest ${parts.join(', ')}`;
}

test('ALGORITHMS lists MD5 and SHA-256', (t) => {
  t.deepEqual([...ALGORITHMS], ['MD5', 'SHA-256']);
});

test('RFC 2617 3.5 example: parsed, computed and matched', (t) => {
  const c = credentialsOf(RFC2617);
  t.deepEqual(c, {
    username: 'Mufasa',
    realm: 'testrealm@host.com',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    uri: '/dir/index.html',
    response: '6629fae49393a05397450978507c4ef1',
    algorithm: 'MD5',
    qop: 'auth',
    nc: '00000001',
    cnonce: '0a4f113b',
    opaque: '5ccc069c403ebaf9f0171e9517f40e41',
  });
  const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  t.is(expectedResponse('MD5', ha1, 'GET', c), '6629fae49393a05397450978507c4ef1');
  t.true(responseMatches(ha1, 'GET', c));
  t.false(responseMatches(ha1, 'POST', c));
});

test('RFC 7616 3.9.1 example with SHA-256', (t) => {
  const c = credentialsOf(RFC7616_SHA256);
  t.is(c.algorithm, 'SHA-256');
  t.is(c.cnonce, 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ');
  const ha1 = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
  t.is(ha1.length, 64);
  t.is(
    expectedResponse('SHA-256', ha1, 'GET', c),
    '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  );
  t.true(responseMatches(ha1, 'GET', c));
});

test('RFC 7616 3.9.1 example with MD5', (t) => {
  const c = credentialsOf(RFC7616_MD5);
  t.is(c.algorithm, 'MD5');
  const ha1 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
  t.is(expectedResponse('MD5', ha1, 'GET', c), '8ca523f5e9506fed4657c9700eebdbec');
  t.true(responseMatches(ha1, 'GET', c));
  // The same credentials hashed with the other algorithm must not pass.
  t.false(responseMatches(ha1, 'GET', { ...c, algorithm: 'SHA-256' }));
});

test('a SIP REGISTER agrees with the npm sip package, with and without qop', (t) => {
  const user = 'alice';
  const realm = 'sip.example.com';
  const password = 's3cr3t "pw"';
  const nonce = 'b2a1f0c9d8e7';
  const uri = 'sip:sip.example.com;transport=tcp';
  const ha1 = computeHa1('MD5', user, realm, password);
  t.is(ha1, sipDigest.calculateUserRealmPasswordHash(user, realm, password));

  const theirs = sipDigest.calculateDigest({
    ha1, method: 'REGISTER', nonce, nc: '0000002a', cnonce: 'abc123', qop: 'auth', uri,
  });
  const c = credentialsOf(
    `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", ` +
      `response="${theirs}", qop=auth, nc=0000002a, cnonce="abc123", algorithm=MD5`,
  );
  t.is(expectedResponse('MD5', ha1, 'REGISTER', c), theirs);
  t.true(responseMatches(ha1, 'REGISTER', c));

  // RFC 2069 form (no qop).
  const legacy = sipDigest.calculateDigest({ ha1, method: 'REGISTER', nonce, uri });
  const c2069 = credentialsOf(
    `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${legacy}"`,
  );
  t.is(c2069.qop, undefined);
  t.is(expectedResponse('MD5', ha1, 'REGISTER', c2069), legacy);
  t.not(legacy, theirs);
});

test('scheme, names and algorithm are case-insensitive; LWS around , and = is allowed', (t) => {
  const c = credentialsOf(
    'dIgEsT   UserName = "alice" ,\tREALM="example.com",Nonce="n"  ,  URI="sip:x" , ' +
      `Response=${'AB'.repeat(32)}, ALGORITHM=sha-256 , QOP=auth,NC=0000000A,CNonce=c  `,
  );
  t.is(c.username, 'alice');
  t.is(c.realm, 'example.com');
  t.is(c.uri, 'sip:x');
  t.is(c.algorithm, 'SHA-256');
  t.is(c.response, 'AB'.repeat(32));
  t.is(c.nc, '0000000A');
  t.is(c.cnonce, 'c');
});

test('quoted-pair escapes are decoded', (t) => {
  const c = credentialsOf(header({ username: '"Mu\\"fa\\\\sa"', realm: '"a, b=c"' }));
  t.is(c.username, 'Mu"fa\\sa');
  t.is(c.realm, 'a, b=c');
});

test('unknown parameters are accepted but kept out of the credentials', (t) => {
  const c = credentialsOf(header({ userhash: 'false', foo: '"bar, baz"', opaque: '"op"' }));
  t.deepEqual(Object.keys(c).sort(), [
    'algorithm', 'cnonce', 'nc', 'nonce', 'opaque', 'qop', 'realm', 'response', 'uri', 'username',
  ]);
  t.is(c.opaque, 'op');
});

test('a duplicated parameter is malformed, whatever its case', (t) => {
  t.is(problemOf(`${header()}, realm="other.com"`), 'malformed');
  t.is(problemOf(`${header()}, Realm="example.com"`), 'malformed');
  t.is(problemOf(`${header()}, foo=1, FOO=1`), 'malformed');
});

test('each required field, and nc / cnonce under qop, is missing_field when absent', (t) => {
  for (const name of ['username', 'realm', 'nonce', 'uri', 'response', 'nc', 'cnonce']) {
    t.is(problemOf(header({ [name]: null })), 'missing_field', name);
  }
  t.is(problemOf('Digest'), 'missing_field');
  // Without qop, nc and cnonce are not needed.
  t.truthy(credentialsOf(header({ qop: null, nc: null, cnonce: null })));
});

test('nc must be exactly 8 hex digits', (t) => {
  for (const nc of ['1', '0000001', '000000001', '0000000g', '"0000000x"']) {
    t.is(problemOf(header({ nc })), 'malformed', nc);
  }
  t.is(credentialsOf(header({ nc: '"00000001"' })).nc, '00000001');
});

test('qop other than auth is unsupported_qop', (t) => {
  t.is(problemOf(header({ qop: 'auth-int' })), 'unsupported_qop');
  t.is(problemOf(header({ qop: '"auth,auth-int"' })), 'unsupported_qop');
  t.is(credentialsOf(header({ qop: '"auth"' })).qop, 'auth');
});

test('-sess and other algorithms are unsupported_algorithm', (t) => {
  for (const algorithm of ['MD5-sess', 'SHA-256-sess', 'SHA-512-256', 'sha1', '"AKAv1-MD5"']) {
    t.is(problemOf(header({ algorithm })), 'unsupported_algorithm', algorithm);
  }
  t.is(credentialsOf(header({ algorithm: '"md5"' })).algorithm, 'MD5');
});

test('response must be hex of the algorithm\'s length', (t) => {
  t.is(problemOf(header({ response: `"${'a'.repeat(31)}"` })), 'malformed');
  t.is(problemOf(header({ response: `"${'a'.repeat(31)}z"` })), 'malformed');
  t.is(problemOf(header({ response: '""' })), 'malformed');
  t.is(problemOf(header({ algorithm: 'SHA-256' })), 'malformed'); // 32 digits for SHA-256
  t.is(credentialsOf(header({ algorithm: 'SHA-256', response: 'f'.repeat(64) })).response, 'f'.repeat(64));
});

test('value length is bounded', (t) => {
  const base = header({ opaque: '""' });
  const fits = base.replace('opaque=""', `opaque="${'x'.repeat(MAX_VALUE_LENGTH - base.length)}"`);
  t.is(fits.length, MAX_VALUE_LENGTH);
  t.truthy(credentialsOf(fits));
  t.is(problemOf(`${fits} `), 'malformed');
  t.is(problemOf(header({ opaque: `"${'x'.repeat(10 * 1024)}"` })), 'malformed');
});

test('other schemes are not_digest', (t) => {
  t.is(problemOf('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=='), 'not_digest');
  t.is(problemOf('Bearer abc.def'), 'not_digest');
  t.is(problemOf('Digestusername="a"'), 'not_digest');
});

test('syntax errors are malformed', (t) => {
  const bad = [
    '',
    '   ',
    'Digest ,username="a"',
    `${header()},`,
    `${header()},,`,
    header().replace(', realm', ' realm'), // missing comma
    header({ username: '"alice' }), // unterminated
    header({ username: '"al\r\nice"' }),
    header({ username: '"al\\\nice"' }),
    header({ username: '"al\x01ice"' }),
    header({ username: 'al"ice' }),
    header({ username: '' }),
    header({ uri: 'sip:example.com' }), // ':' is not a token char
    `${header()}, flag`,
    `${header()} junk`,
  ];
  for (const value of bad) t.is(problemOf(value), 'malformed', JSON.stringify(value));
});

test('non-ASCII text in a quoted-string is kept', (t) => {
  t.is(credentialsOf(header({ username: '"zoë"' })).username, 'zoë');
});

test('challengeValue: exact form, and its parameters parse back', (t) => {
  t.is(
    challengeValue('MD5', 'example.com', 'abc'),
    'Digest realm="example.com", nonce="abc", algorithm=MD5, qop="auth"',
  );
  const realm = 'a "quoted" \\ realm, with=signs';
  const value = challengeValue('SHA-256', realm, 'n/o+n=ce', { stale: true, opaque: 'op"aque' });
  t.is(
    value,
    'Digest realm="a \\"quoted\\" \\\\ realm, with=signs", nonce="n/o+n=ce", opaque="op\\"aque", ' +
      'algorithm=SHA-256, qop="auth", stale=true',
  );
  const parsed = parseDigestParams(value);
  if (!('params' in parsed)) return t.fail(parsed.problem);
  t.deepEqual(Object.fromEntries(parsed.params), {
    realm,
    nonce: 'n/o+n=ce',
    opaque: 'op"aque',
    algorithm: 'SHA-256',
    qop: 'auth',
    stale: 'true',
  });
  t.false(challengeValue('MD5', 'r', 'n', { stale: false }).includes('stale'));
});

test('challengeValue refuses values that no quoted-string can carry', (t) => {
  t.throws(() => challengeValue('MD5', 'evil\r\nX-Injected: 1', 'n'), { instanceOf: RangeError });
  t.throws(() => challengeValue('MD5', 'r', 'n', { opaque: 'a\nb' }), { instanceOf: RangeError });
});

test('responseMatches: one changed hex digit fails, uppercase hex passes', (t) => {
  const c = credentialsOf(RFC2617);
  const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  const flipped = (c.response[0] === '6' ? '7' : '6') + c.response.slice(1);
  t.false(responseMatches(ha1, 'GET', { ...c, response: flipped }));
  const lastFlipped = c.response.slice(0, -1) + (c.response.endsWith('1') ? '2' : '1');
  t.false(responseMatches(ha1, 'GET', { ...c, response: lastFlipped }));
  t.true(responseMatches(ha1, 'GET', { ...c, response: c.response.toUpperCase() }));
  t.true(responseMatches(ha1.toUpperCase(), 'GET', c));
  t.false(responseMatches(ha1, 'GET', { ...c, response: c.response.slice(1) }));
  t.false(responseMatches(ha1, 'GET', { ...c, nc: '00000002' }));
});
