// Example route hook for anysip (named by `route_hook:` in examples/core-routes.yaml).
// The contract is documented in src/proxy/README.md ("Route hook").
//
// The proxy calls the default export for every initial request it has to route
// (not for REGISTER to a local domain, and not for in-dialog requests):
//
//   route(req) -> { targets: string[], strategy?: 'parallel' | 'serial', socket?: string }   fork to these URIs
//               | { status: 300..699, reason?: string }                                       answer it ourselves
//               | undefined                                                                   no opinion: registrar, route table, 404
//
// `req` has method, uri (the Request-URI text), callId, from, to, header(name),
// source { transport, address, port, socketId } and message (the parsed
// request: read it, do not change it). It may be async. It runs on the SIP
// hot path: keep it fast. An exception or a malformed answer becomes a 500.

/** Emergency numbers go to the PSAP gateway on the core side. */
const EMERGENCY = new Set(['112', '911', '999']);

export default function route(req) {
  const user = /^sips?:([^@;]+)@/.exec(req.uri)?.[1] ?? '';

  if (EMERGENCY.has(user)) {
    return { targets: ['sip:10.0.0.9:5060;transport=udp'], socket: 'core' };
  }

  // Premium-rate numbers are refused outright.
  if (user.startsWith('+449')) {
    return { status: 403, reason: 'Premium Rate Not Allowed' };
  }

  // Anything else: the proxy's default handling decides.
  return undefined;
}
