// Example route hook for anysip (referenced by examples/core-routes.yaml).
//
// The exact hook contract is defined and illustrated in src/proxy/README.md;
// this file shows its intended shape. The proxy calls the default export for
// each initial request it has to route:
//
//   route(req, ctx) -> { targets: string[], strategy?: 'parallel' | 'serial', socket?: string }
//                    | { status: number, reason?: string }     answer the request ourselves
//                    | undefined                               no opinion: fall through (e.g. 404)
//
// `req` is the parsed request (method, Request-URI, headers); `ctx` carries the
// node's view (node id, the envelope the request arrived with, a logger).
// Keep it fast and side-effect free: it runs on the SIP hot path, maybe async.

/** Emergency numbers go to the PSAP gateway, first. */
const EMERGENCY = new Set(['112', '911', '999']);

export default function route(req, ctx) {
  const user = req.uri?.user ?? '';

  if (EMERGENCY.has(user)) {
    return { targets: ['sip:10.0.0.9:5060;transport=udp'], socket: 'core' };
  }

  // Premium-rate numbers are refused outright.
  if (user.startsWith('+449')) {
    ctx?.log?.info({ user }, 'premium-rate number refused');
    return { status: 403, reason: 'Premium Rate Not Allowed' };
  }

  // Anything else: let the proxy's default handling decide.
  return undefined;
}
