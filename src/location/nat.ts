// NAT detection for phones without RFC 5626 (what Kamailio's nathelper does
// with nat_uac_test and fix_nated_register, decided once, at REGISTER time).
// A phone behind NAT writes its private address in both its Via and its
// Contact, and the REGISTER arrives from the NAT's public address and port.
// So: the Contact names the same host as the top Via (the phone registered
// itself), and the Via's sent-by is not where the REGISTER came from.
// A private Contact alone is not enough: a third-party registration (a
// gateway registering a core host's address) has one too, but its Contact is
// not its own Via's host, and must be dialled as written.

import { namesEndpoint, normalizeHost } from '../sip/host.js';
import type { SipUri, Via } from '../sip/types.js';
import type { Envelope } from '../transport/types.js';

/** True when `contact` is the phone's own address behind a NAT: reach it where the REGISTER came from instead. */
export function registeredFromBehindNat(via: Via, contact: SipUri, env: Envelope, hasPath: boolean): boolean {
  // Through an edge proxy (Path), the source is that proxy, which reaches the phone itself.
  return !hasPath && sentFromBehindNat(via, contact, env);
}

/** The sender of a request (its top Via and Contact) wrote its own address, and a NAT changed it on the way. */
export function sentFromBehindNat(via: Via, contact: SipUri, env: Envelope): boolean {
  if (env.transport === 'ws') return false;
  if (normalizeHost(contact.host) !== normalizeHost(via.host)) return false;
  return !namesEndpoint(via.host, via.port, env.remote.address, env.remote.port);
}
