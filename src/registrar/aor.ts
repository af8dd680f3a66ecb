// Address-of-record canonical form: the key of the location table.
// sips and sip AORs are one user (RFC 3261 10.3 step 5 compares them as sip:).

import type { SipUri } from '../sip/types.js';
import { normalizeHost } from '../proxy/local-address.js';

export function aorOf(uri: SipUri): string {
  const scheme = uri.scheme === 'sips' ? 'sip' : uri.scheme;
  const user = uri.user === undefined ? '' : unescapeUser(uri.user) + '@';
  return `${scheme}:${user}${normalizeHost(uri.host)}`;
}

/** %HH escapes decoded to bytes (latin1 chars), so alice and %61lice are one AOR. */
export function unescapeUser(user: string): string {
  if (!user.includes('%')) return user;
  return user.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
