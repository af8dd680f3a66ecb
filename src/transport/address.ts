// IP address helpers shared by the listeners. Addresses are compared as
// strings, so every address that enters a registry key is canonicalised first.

import { isIP, SocketAddress } from 'node:net';

export type Family = 4 | 6;

/** 4, 6, or 0 when `address` is not an IP literal. */
export function familyOf(address: string): 0 | Family {
  return isIP(address) as 0 | Family;
}

/** 0.0.0.0 and :: bind every address: the kernel picks the source address. */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/**
 * Dual-stack (::) sockets report IPv4 peers as ::ffff:a.b.c.d. Upper layers
 * (Via received=, registrar) want the plain IPv4 form, so we strip the prefix;
 * `toSocketFamily` adds it back when sending from an IPv6 socket.
 */
export function normalizeAddress(address: string): string {
  if (address.length > 7 && (address.startsWith('::ffff:') || address.startsWith('::FFFF:'))) {
    const v4 = address.slice(7);
    if (isIP(v4) === 4) return v4;
  }
  return address;
}

/** Canonical text of an IP literal ('0:0::1' -> '::1'), so lookups by address match what sockets report. */
export function canonicalAddress(address: string): string {
  const a = normalizeAddress(address);
  // Node reports IPv6 peers compressed and lower-case; upper layers may hand us any spelling.
  if (isIP(a) === 6) return new SocketAddress({ address: a, family: 'ipv6' }).address;
  return a;
}

/** The address to hand to a socket of `family`: IPv4 through an IPv6 (dual-stack) socket is v4-mapped. */
export function toSocketFamily(address: string, family: Family): string {
  return family === 6 && isIP(address) === 4 ? '::ffff:' + address : address;
}

/** Registry key of a remote endpoint. Both parts must already be canonical. */
export function endpointKey(address: string, port: number): string {
  return address + '|' + port;
}

/** 'a.b.c.d:p' or '[v6]:p', for error messages. */
export function formatEndpoint(address: string, port: number): string {
  return (isIP(address) === 6 ? '[' + address + ']' : address) + ':' + port;
}
