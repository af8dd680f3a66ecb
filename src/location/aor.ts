// Address-of-record canonical form: the key of the location table.
// sips and sip AORs are one user (RFC 3261 10.3 step 5 compares them as sip:).

import { normalizeHost } from '../sip/host.js';
import type { SipUri } from '../sip/types.js';
import { unescapeUser } from '../sip/uri.js';

export function aorOf(uri: SipUri): string {
  const scheme = uri.scheme === 'sips' ? 'sip' : uri.scheme;
  const user = uri.user === undefined ? '' : unescapeUser(uri.user) + '@';
  return `${scheme}:${user}${normalizeHost(uri.host)}`;
}
