// Is a phone behind NAT? The test of Kamailio's nat_uac_test / OpenSIPS's
// nat_uac_test flag 1: its Contact names a private (RFC 1918, RFC 6598
// shared, link-local, unique-local IPv6) address that is not where its
// REGISTER came from. Such a phone is reached at the address the REGISTER
// came from, through the pinhole its NAT opened toward us.

import { BlockList, isIP } from 'node:net';

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8);
PRIVATE.addSubnet('172.16.0.0', 12);
PRIVATE.addSubnet('192.168.0.0', 16);
PRIVATE.addSubnet('100.64.0.0', 10);
PRIVATE.addSubnet('169.254.0.0', 16);
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fe80::', 10, 'ipv6');

export function isPrivateAddress(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 0) return false;
  return PRIVATE.check(bare, family === 6 ? 'ipv6' : 'ipv4');
}

/** The Contact's host is private and is not the source address: a NAT sits between the phone and us. */
export function behindNat(contactHost: string, sourceAddress: string): boolean {
  const bare = contactHost.startsWith('[') ? contactHost.slice(1, -1) : contactHost;
  return isPrivateAddress(bare) && bare.toLowerCase() !== sourceAddress.toLowerCase();
}
