// What the lab generates from its one description (lab/topology.mjs) matches that description:
// the committed FRR example and GNS3 project / Cisco config are current, the GNS3 project is
// well-formed for GNS3 2.2, and names/addresses obey the lab's safety rules. No root needed.

import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM without types
import { describe, links, namespaces } from '../../lab/topology.mjs';
// @ts-expect-error plain ESM without types
import { ciscoConfig, ciscoIfaces, frrFiles, gns3Project, nftSpray, nodeYaml, subscribersYaml } from '../../lab/lib/render.mjs';
// @ts-expect-error plain ESM without types
import { LAB_PASSWORD, LAB_USER } from '../../lab/lib/sipp.mjs';
import { parseConfig } from '../../src/config/index.js';
import { ROOT } from './helpers.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('the committed lab/quagga/default and lab/gns3 files are what lab/topology.mjs renders', (t) => {
  const d = describe({ nodes: 3, mode: 'per-packet' });
  for (const [rel, text] of Object.entries(frrFiles(d) as Record<string, string>)) {
    const expected = text.replaceAll('__LOGDIR__', `/run/anysip-lab/frr/${rel.split('/')[0]}`);
    t.is(readFileSync(join(ROOT, 'lab', 'quagga', 'default', rel), 'utf8'), expected, `lab/quagga/default/${rel} is stale: npx zx lab/render.mjs`);
  }
  t.is(readFileSync(join(ROOT, 'lab', 'gns3', 'anysip-lab.gns3'), 'utf8'), JSON.stringify(gns3Project(d), null, 4) + '\n', 'lab/gns3/anysip-lab.gns3 is stale: npx zx lab/render.mjs');
  t.is(readFileSync(join(ROOT, 'lab', 'gns3', 'router-ios.cfg'), 'utf8'), ciscoConfig(d), 'lab/gns3/router-ios.cfg is stale: npx zx lab/render.mjs');
});

for (const nodes of [1, 3, 5, 8]) {
  for (const mode of ['per-packet', 'per-flow']) {
    test(`GNS3 project is well-formed and matches the description (${nodes} nodes, ${mode})`, (t) => {
      const d = describe({ nodes, mode });
      const p: Any = JSON.parse(JSON.stringify(gns3Project(d)));
      // Top-level keys GNS3 2.2 writes and reads.
      for (const k of ['auto_close', 'auto_open', 'auto_start', 'name', 'project_id', 'revision', 'scene_height', 'scene_width', 'topology', 'type', 'version', 'zoom', 'show_grid', 'snap_to_grid', 'grid_size', 'drawing_grid_size', 'show_interface_labels', 'show_layers', 'supplier', 'variables']) {
        t.true(k in p, `project has ${k}`);
      }
      t.regex(p.project_id, UUID);
      t.is(p.type, 'topology');
      t.is(p.revision, 9);
      t.regex(p.version, /^2\.2\./);
      for (const k of ['nodes', 'links', 'computes', 'drawings']) t.true(Array.isArray(p.topology[k]), `topology.${k} is an array`);
      const ids = new Set<string>();
      for (const n of p.topology.nodes) {
        for (const k of ['compute_id', 'console_type', 'name', 'node_id', 'node_type', 'properties', 'symbol', 'x', 'y', 'z', 'label', 'port_name_format']) t.true(k in n, `node ${n.name} has ${k}`);
        t.regex(n.node_id, UUID);
        t.false(ids.has(n.node_id), 'node ids are unique');
        ids.add(n.node_id);
        t.true(['dynamips', 'docker'].includes(n.node_type));
      }
      t.is(p.topology.nodes.length, nodes + 3, 'router, client, core and one node per anysip host');
      const names = p.topology.nodes.map((n: Any) => n.name).sort();
      t.deepEqual(names, ['anysip-router', 'client', 'core', ...d.nodes.map((n: Any) => n.name)].sort());
      const router = p.topology.nodes.find((n: Any) => n.node_type === 'dynamips');
      t.is(router.properties.platform, 'c7200');
      t.is(router.properties.startup_config, 'router-ios.cfg');
      // Links: router <-> every other node, on the router port of the matching Cisco interface.
      t.is(p.topology.links.length, nodes + 2);
      const ifs = ciscoIfaces(d);
      const used = new Set<string>();
      for (const l of p.topology.links) {
        t.regex(l.link_id, UUID);
        t.is(l.nodes.length, 2);
        for (const e of l.nodes) {
          t.true(ids.has(e.node_id), 'link ends on a node of the project');
          t.true(Number.isInteger(e.adapter_number) && Number.isInteger(e.port_number));
        }
        const [r, other] = l.nodes;
        t.is(r.node_id, router.node_id, 'every link starts at the router');
        const peer = p.topology.nodes.find((n: Any) => n.node_id === other.node_id).name;
        const i = ifs.find((x: Any) => x.peer === (peer === 'client' || peer === 'core' ? peer : peer));
        t.truthy(i, `a router interface faces ${peer}`);
        t.is(r.adapter_number, i.slot);
        t.is(r.port_number, i.port);
        t.is(r.label.text, i.cisco);
        const k = `${r.adapter_number}/${r.port_number}`;
        t.false(used.has(k), 'one link per router port');
        used.add(k);
        t.truthy(router.properties[`slot${i.slot}`], `slot${i.slot} has an adapter`);
      }
    });

    test(`Cisco IOS config matches the description (${nodes} nodes, ${mode})`, (t) => {
      const d = describe({ nodes, mode });
      const cfg: string = ciscoConfig(d);
      t.regex(cfg, /^router ospf 1$/m);
      t.regex(cfg, new RegExp(`^ maximum-paths ${Math.max(nodes, 2)}$`, 'm'));
      t.regex(cfg, /^ip cef$/m);
      const perPacket = (cfg.match(/^ ip load-sharing per-packet$/gm) ?? []).length;
      t.is(perPacket, mode === 'per-packet' ? nodes : 0, 'per-packet load sharing on every interface toward an anysip host');
      for (const n of d.nodes) {
        t.true(cfg.includes(` ip address ${n.routerAddress} 255.255.255.0`), `interface toward ${n.name}`);
        t.true(cfg.includes(` network ${n.network.split('/')[0]} 0.0.0.255 area 0`), `OSPF on ${n.network}`);
      }
      t.true(cfg.includes(` ip address ${d.client.routerAddress} 255.255.255.0`));
      t.true(cfg.includes(` ip address ${d.core.routerAddress} 255.255.255.0`));
      t.is((cfg.match(/^interface /gm) ?? []).length, nodes + 2);
    });
  }
}

test('names and addresses obey the lab rules: anysip prefix, <= 15 char interfaces, test ranges only', (t) => {
  const d = describe({ nodes: 8 });
  for (const ns of namespaces(d) as string[]) t.true(ns.startsWith('anysip-lab-'), ns);
  for (const l of links(d) as Any[]) {
    for (const end of [l.a, l.b]) {
      t.true(end.iface.startsWith('anysip'), end.iface);
      t.true(end.iface.length <= 15, `${end.iface} fits IFNAMSIZ`);
    }
  }
  t.true(d.lb.table.startsWith('anysip'));
  const addrs = [d.anycast, d.client.address, d.core.address, ...d.nodes.map((n: Any) => n.address), ...d.router.ifaces.map((i: Any) => i.address)];
  for (const a of addrs) t.regex(a, /^(10\.255\.|192\.0\.2\.|198\.51\.100\.)/, `${a} is a private/test address`);
  t.throws(() => describe({ nodes: 9 }));
  t.throws(() => describe({ mode: 'per-byte' }));
});

test('FRR configs: hosts announce the anycast /32 from lo, the router runs ECMP over every host', (t) => {
  const d = describe({ nodes: 4 });
  const f = frrFiles(d) as Record<string, string>;
  const r = f['anysip-lab-router/ospfd.conf']!;
  t.regex(r, /maximum-paths 4/);
  for (const n of d.nodes) {
    t.regex(r, new RegExp(`interface ${n.routerIface}\\n ip ospf network point-to-point`));
    const h = f[`${n.ns}/ospfd.conf`]!;
    t.regex(h, /network 192\.0\.2\.10\/32 area/);
    t.regex(h, /passive-interface lo/);
    t.regex(h, new RegExp(`ospf router-id ${n.routerId.replaceAll('.', '\\.')}`));
  }
});

test('per-packet nft ruleset maps numgen over the live next hops only', (t) => {
  const d = describe({ nodes: 3, mode: 'per-packet', spray: 'inc' });
  t.regex(nftSpray(d, [1, 2, 3]), /ip daddr 192\.0\.2\.10 meta mark set numgen inc mod 3 map \{ 0 : 1, 1 : 2, 2 : 3 \}/);
  t.regex(nftSpray(d, [1, 3]), /numgen inc mod 2 map \{ 0 : 1, 1 : 3 \}/);
  t.notRegex(nftSpray(d, []), /numgen/);
});

test('node configs rendered by the lab are valid anysip configs (with cluster:/anycast: when the schema has them)', (t) => {
  const d = describe({ nodes: 3 });
  // A node on the lab's addresses must say who may use it: the lab trusts its client and core networks.
  t.true(yamlKnows(['auth']));
  const variants: string[][] = [['auth']];
  if (yamlKnows(['cluster', 'anycast'])) variants.push(['cluster', 'anycast', 'auth']);
  for (const sections of variants) {
    for (const n of d.nodes) {
      const c: Any = parseConfig(nodeYaml(d, n, sections), `${n.name}.yaml`);
      t.is(c.node.id, n.id);
      t.deepEqual(c.listen.map((l: Any) => `${l.transport}:${l.address}:${l.role}`), ['udp:192.0.2.10:anycast', 'tcp:192.0.2.10:anycast', `udp:${n.address}:unicast`, `tcp:${n.address}:unicast`]);
      t.deepEqual(c.auth.trusted, [d.client.network, d.core.network]);
      if (sections.includes('cluster')) {
        t.is(c.cluster.peers.length, 3);
        t.is(c.cluster.bus.address, n.address);
      }
    }
  }
});

test('with --auth the client is not trusted: nodes authenticate against the subscriber file the lab writes', (t) => {
  const d = describe({ nodes: 3, auth: true });
  const run = mkdtempSync(join(tmpdir(), 'anysip-lab-auth-render-'));
  writeFileSync(join(run, 'subscribers.yaml'), subscribersYaml(d, LAB_USER, LAB_PASSWORD));
  const c: Any = parseConfig(nodeYaml(d, d.nodes[0], ['cluster', 'anycast', 'auth'], run), 'n1.yaml');
  t.is(c.auth.subscribers, join(run, 'subscribers.yaml'));
  t.is(c.auth.realm, 'anysip-lab');
  t.deepEqual(c.auth.trusted, [d.core.network], 'only the core network');
  t.regex(subscribersYaml(d, LAB_USER, LAB_PASSWORD), new RegExp(`user: ${LAB_USER}, realm: anysip-lab, password: "${LAB_PASSWORD}"`));
});

function yamlKnows(keys: string[]): boolean {
  const src = readFileSync(join(ROOT, 'src', 'config', 'schema.ts'), 'utf8');
  return keys.every((k) => new RegExp(`^\\s+${k}: `, 'm').test(src));
}
