// Host names as SIP compares them: case-insensitive, IPv6 references without brackets.
// Used by the registrar (AOR keys) and the proxy (is this URI us?, destinations).

export function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** The host and port a URI or Via names (no port: 5060) are this address and port: where a message came from. */
export function namesEndpoint(host: string, port: number | undefined, address: string, actualPort: number): boolean {
  return normalizeHost(host) === address.toLowerCase() && (port ?? 5060) === actualPort;
}

export function isIpLiteral(host: string): boolean {
  const h = normalizeHost(host);
  return h.includes(':') || /^\d{1,3}(\.\d{1,3}){3}$/.test(h);
}
