/**
 * Reading V8 heap snapshots (the `.heapsnapshot` JSON that workerd's inspector streams) for
 * the soak: live objects grouped by constructor, the difference between two snapshots, and
 * the objects born between them with what holds them.
 *
 * V8 keeps an object's snapshot id for the isolate's lifetime, so objects born after an
 * earlier snapshot and still alive in a later one are exactly what the traffic in between
 * left behind: `survivors` groups them and names what holds them.
 *
 * Enough to say what a worker keeps per request and who holds it; not a replacement for
 * DevTools' Memory panel, which opens the same files (written beside the soak's report).
 * No dominator tree: immediate retainers show who holds an object, not its retained size.
 */

/** The snapshot's flat arrays with their field offsets, plus a name per node. */
export function parseSnapshot(text) {
  const raw = JSON.parse(text);
  const meta = raw.snapshot.meta;
  const nodeFields = meta.node_fields;
  const edgeFields = meta.edge_fields;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const N = nodeFields.length;
  const E = edgeFields.length;
  const at = (fields, name) => fields.indexOf(name);
  const f = {
    type: at(nodeFields, "type"),
    name: at(nodeFields, "name"),
    id: at(nodeFields, "id"),
    self: at(nodeFields, "self_size"),
    edges: at(nodeFields, "edge_count"),
    edgeType: at(edgeFields, "type"),
    edgeName: at(edgeFields, "name_or_index"),
    to: at(edgeFields, "to_node"),
  };
  const nodeCount = raw.nodes.length / N;
  // Where each node's edges start in the flat edge array.
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let i = 0; i < nodeCount; i++) firstEdge[i + 1] = firstEdge[i] + raw.nodes[i * N + f.edges] * E;
  return { raw, nodeTypes, edgeTypes, N, E, f, nodeCount, firstEdge };
}

/** The group a node is counted in: its constructor for objects, its kind for the rest. */
function groupOf(s, i) {
  const type = s.nodeTypes[s.raw.nodes[i * s.N + s.f.type]];
  const name = s.raw.strings[s.raw.nodes[i * s.N + s.f.name]];
  switch (type) {
    case "object":
      return name;
    case "closure":
      return `(closure) ${name || "anonymous"}`;
    case "string":
    case "concatenated string":
    case "sliced string":
      return "(string)";
    case "array":
      return `(array) ${name}`;
    case "hidden":
    case "code":
    case "native":
      return `(${type}) ${name.slice(0, 60)}`;
    case "synthetic":
      return name; // a root: "(Global handles)", "(Internalized strings)", …
    default:
      return `(${type})`;
  }
}

/** Live objects per group: count and shallow bytes, and the whole heap's totals. */
export function summarize(s) {
  const groups = new Map();
  let bytes = 0;
  for (let i = 0; i < s.nodeCount; i++) {
    const self = s.raw.nodes[i * s.N + s.f.self];
    bytes += self;
    const key = groupOf(s, i);
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += self;
    groups.set(key, g);
  }
  return { nodes: s.nodeCount, bytes, groups };
}

/** Groups that grew from `before` to `after`, largest growth in bytes first. */
export function grownGroups(before, after, limit = 12) {
  const rows = [];
  for (const [key, g] of after.groups) {
    const b = before.groups.get(key) ?? { count: 0, bytes: 0 };
    if (g.bytes > b.bytes) rows.push({ group: key, count: g.count - b.count, bytes: g.bytes - b.bytes, total: g.count });
  }
  return rows.sort((x, y) => y.bytes - x.bytes).slice(0, limit);
}

/**
 * Objects in `after` that did not exist when `before` was taken (higher ids), by group,
 * largest first, each group with its most common immediate retainers (`Group.edge`).
 */
export function survivors(before, after, limit = 8) {
  let maxId = 0;
  for (let i = 0; i < before.nodeCount; i++) maxId = Math.max(maxId, before.raw.nodes[i * before.N + before.f.id]);
  const s = after;
  const born = new Map();
  const groupOfNode = new Map();
  for (let i = 0; i < s.nodeCount; i++) {
    if (s.raw.nodes[i * s.N + s.f.id] <= maxId) continue;
    const key = groupOf(s, i);
    const g = born.get(key) ?? { group: key, count: 0, bytes: 0, retainers: new Map() };
    g.count++;
    g.bytes += s.raw.nodes[i * s.N + s.f.self];
    born.set(key, g);
    groupOfNode.set(i * s.N, g);
  }
  for (let from = 0; from < s.nodeCount; from++) {
    for (let e = s.firstEdge[from]; e < s.firstEdge[from + 1]; e += s.E) {
      const g = groupOfNode.get(s.raw.edges[e + s.f.to]);
      if (!g) continue;
      const type = s.edgeTypes[s.raw.edges[e + s.f.edgeType]];
      if (type === "weak") continue;
      const nameOrIndex = s.raw.edges[e + s.f.edgeName];
      // Global handles are named "<n> / <holder>": counted by holder.
      const edge = type === "element" || type === "hidden" ? "[]" : String(s.raw.strings[nameOrIndex] ?? nameOrIndex).replace(/^\d+ \/ /, "").slice(0, 40);
      const label = `${groupOf(s, from).slice(0, 50)}.${edge}`;
      g.retainers.set(label, (g.retainers.get(label) ?? 0) + 1);
    }
  }
  return [...born.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, limit)
    .map((g) => ({
      group: g.group,
      count: g.count,
      bytes: g.bytes,
      retainers: [...g.retainers].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([label, n]) => `${n} × ${label}`),
    }));
}
