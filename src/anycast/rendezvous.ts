// Rendezvous (highest random weight) ownership: owner(key) = the node with the
// highest weight(key, node). Every node computes the same owner from the same
// up-set, and a change of the set only moves the keys of the node that left or
// joined (1/N of them), which is what second chance relies on.

/** FNV-1a over the key's latin1 chars (SIP strings are byte strings). */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3 fmix32 of the key hash mixed with the node id: a well spread weight per (key, node). */
export function weight(hash: number, node: number): number {
  let h = (hash ^ Math.imul(node, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Owner of a key hash among `nodes` (ties, vanishingly rare, go to the lower id). 0 when `nodes` is empty. */
export function ownerOfHash(hash: number, nodes: readonly number[]): number {
  let best = 0;
  let bestW = -1;
  for (const n of nodes) {
    const w = weight(hash, n);
    if (w > bestW || (w === bestW && n < best)) {
      best = n;
      bestW = w;
    }
  }
  return best;
}

export function ownerOf(key: string, nodes: readonly number[]): number {
  return ownerOfHash(keyHash(key), nodes);
}
