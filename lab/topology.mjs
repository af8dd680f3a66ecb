// The lab's one description: namespaces, links, addresses and mode.
// Everything else (namespaces and veths, FRR configs, anysip node configs,
// the per-packet load balancer, the GNS3 project and the Cisco config) is
// derived from the object `describe()` returns. Pure data: no I/O here.
//
//                      client 198.51.100.10 (SIPp UAC)
//                         | 198.51.100.0/24
//                      router (FRR ospfd; ECMP per-flow or per-packet)
//        10.255.1.0/24 /   | 10.255.2.0/24  \ 10.255.3.0/24      \ 10.255.200.0/24
//          n1 .2         n2 .2            n3 .2               core 10.255.200.10 (SIPp UAS)
//   lo: 192.0.2.10/32   192.0.2.10/32    192.0.2.10/32  (anycast, announced with OSPF)
//
// The router routes to the core too: each anysip host talks to the core (and
// to its peers: the cluster bus) from its unicast address on its router link.

import { createHash } from 'node:crypto';

export const MODES = ['per-flow', 'per-packet'];
export const MAX_NODES = 8;

/** Every name the lab creates starts with this (namespaces, veths, nft tables). */
export const PREFIX = 'anysip';

/**
 * @param {{nodes?: number, mode?: string, spray?: 'inc'|'random', cluster?: boolean, anycastMode?: 'hash'|'receiver', auth?: boolean}} [opts]
 */
export function describe(opts = {}) {
  const n = opts.nodes ?? 3;
  const mode = opts.mode ?? 'per-flow';
  if (!Number.isInteger(n) || n < 1 || n > MAX_NODES) throw new Error(`--nodes must be an integer 1..${MAX_NODES} (got ${opts.nodes})`);
  if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(', ')} (got ${opts.mode})`);
  const spray = opts.spray ?? 'random';
  if (opts.anycastMode !== undefined && !['hash', 'receiver'].includes(opts.anycastMode)) throw new Error(`--anycast-mode must be hash or receiver (got ${opts.anycastMode})`);
  if (!['inc', 'random'].includes(spray)) throw new Error(`spray must be inc or random (got ${spray})`);

  const anycast = '192.0.2.10';
  const sipPort = 5060;
  const router = {
    name: 'router',
    ns: `${PREFIX}-lab-router`,
    routerId: '10.255.0.1',
    ifaces: [],
  };
  const client = {
    name: 'client',
    ns: `${PREFIX}-lab-client`,
    address: '198.51.100.10',
    prefix: 24,
    gateway: '198.51.100.1',
    iface: `${PREFIX}-c-r`,
    routerIface: `${PREFIX}-r-c`,
    routerAddress: '198.51.100.1',
    network: '198.51.100.0/24',
  };
  const core = {
    name: 'core',
    ns: `${PREFIX}-lab-core`,
    address: '10.255.200.10',
    prefix: 24,
    gateway: '10.255.200.1',
    iface: `${PREFIX}-core-r`,
    routerIface: `${PREFIX}-r-core`,
    routerAddress: '10.255.200.1',
    network: '10.255.200.0/24',
    uasPort: sipPort,
  };
  const nodes = [];
  for (let i = 1; i <= n; i++) {
    nodes.push({
      index: i,
      id: i,
      name: `n${i}`,
      ns: `${PREFIX}-lab-n${i}`,
      iface: `${PREFIX}-n${i}-r`,
      routerIface: `${PREFIX}-r-n${i}`,
      address: `10.255.${i}.2`,
      routerAddress: `10.255.${i}.1`,
      prefix: 24,
      network: `10.255.${i}.0/24`,
      routerId: `10.255.${i}.2`,
      admin: { address: '127.0.0.1', port: 8060 },
      busPort: 5090,
      /** per-packet: fwmark and policy routing table of this next hop */
      mark: i,
      table: 100 + i,
    });
  }
  router.ifaces = [
    { name: client.routerIface, address: client.routerAddress, prefix: 24, peer: 'client', network: client.network },
    ...nodes.map((nd) => ({ name: nd.routerIface, address: nd.routerAddress, prefix: 24, peer: nd.name, network: nd.network })),
    { name: core.routerIface, address: core.routerAddress, prefix: 24, peer: 'core', network: core.network },
  ];
  const desc = {
    version: 1,
    mode,
    spray,
    anycast,
    sipPort,
    ospf: { area: '0.0.0.0', hello: 1, dead: 4 },
    lb: { table: `${PREFIX}-lab-lb`, rulePrefBase: 1000 },
    // enabled: render the cluster: and anycast: sections when the built config schema knows them
    // (false: independent single nodes, to compare). anycastMode: anycast.mode (hash | receiver).
    cluster: { enabled: opts.cluster ?? true, secret: 'anysip-lab-cluster-secret-0123456789', anycastMode: opts.anycastMode ?? 'hash' },
    // enabled (--auth): the client is not trusted; phones authenticate with digest as LAB_USER
    // (lab/lib/sipp.mjs) against a subscriber file up.mjs writes. Off: the client network is trusted.
    auth: { enabled: opts.auth ?? false, realm: 'anysip-lab' },
    router,
    client,
    core,
    nodes,
  };
  return desc;
}

/** Every namespace of a description, router first. */
export function namespaces(desc) {
  return [desc.router.ns, desc.client.ns, ...desc.nodes.map((n) => n.ns), desc.core.ns];
}

/** Point-to-point links as [nsA, ifA, nsB, ifB]. */
export function links(desc) {
  return [
    { a: { ns: desc.router.ns, iface: desc.client.routerIface }, b: { ns: desc.client.ns, iface: desc.client.iface } },
    ...desc.nodes.map((n) => ({ a: { ns: desc.router.ns, iface: n.routerIface }, b: { ns: n.ns, iface: n.iface } })),
    { a: { ns: desc.router.ns, iface: desc.core.routerIface }, b: { ns: desc.core.ns, iface: desc.core.iface } },
  ];
}

/** A stable short hash of the description (used for deterministic ids in generated files). */
export function descriptionHash(desc) {
  return createHash('sha256').update(JSON.stringify(desc)).digest('hex');
}
