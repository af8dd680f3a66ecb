// The lab's anysip nodes: how up.mjs starts them and restart.mjs starts one again, and what they say.

import { join } from 'node:path';
import { ROOT, RUN, nsHttpGet, registerPid, startProcess } from './lab.mjs';

/** A node's config file, rendered by up.mjs (lab/lib/render.mjs nodeYaml). */
export function nodeConfig(n) {
  return join(RUN, 'nodes', `${n.name}.yaml`);
}

/** A node's log file (appended to across restarts). */
export function nodeLog(n) {
  return join(RUN, 'logs', `${n.name}.log`);
}

/** Name of a node's pid file (RUN/pids/anysip-nK.pid). */
export function nodePidName(n) {
  return `anysip-${n.name}`;
}

/**
 * Start a node's anysip in its namespace from its rendered config: `node bin/anysip.mjs start
 * --config RUN/nodes/nK.yaml --pid-file RUN/pids/anysip-nK.pid`, output appended to its log.
 * Returns the child (its pid is the node's: `ip netns exec` execs).
 */
export function startNode(n) {
  const name = nodePidName(n);
  const pidFile = registerPid(name, 'anysip.mjs');
  return startProcess({
    name, ns: n.ns, cmd: process.execPath,
    args: [join(ROOT, 'bin', 'anysip.mjs'), 'start', '--config', nodeConfig(n), '--pid-file', pidFile],
    logFile: nodeLog(n), expect: 'anysip.mjs',
  });
}

/** A node's GET /status (admin API on its own loopback), parsed; undefined when it does not answer. */
export function nodeStatus(n, timeoutS = 2) {
  const body = nsHttpGet(n.ns, `http://${n.admin.address}:${n.admin.port}/status`, timeoutS);
  if (!body) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
