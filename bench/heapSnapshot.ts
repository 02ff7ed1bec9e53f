// Where a V8 heap snapshot's memory goes (the format: https://v8.dev/docs/memory-leaks and Chrome DevTools'
// HeapSnapshot model): the live heap by kind, the biggest owners by retained size (dominator tree), and the
// compiled code of the agent's main script by the module it came from, mapped through a source map of the
// same bundle. For bench/footprint.bench.ts; `node bench/heapSnapshot.ts FILE` prints one summary.
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';

interface RawSnapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]]; location_fields?: string[] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
  locations?: number[];
}

export interface HeapSummary {
  /** live heap: the sum of every reachable object's own size */
  liveMiB: number;
  /** by kind of object (own sizes) */
  byKind: Record<string, number>;
  /** the biggest owners: retained size (what would go with them), named by class and the field holding them */
  owners: Array<{ owner: string; retainedMiB: number }>;
  /** bytecode, function metadata, feedback and closures of the main script, by package or src/ folder */
  codeByModule?: Record<string, number>;
  /** why codeByModule is missing */
  codeByModuleSkipped?: string;
}

/** A bundle and its source map (esbuild), to attribute the main script's code to modules. */
export interface MappedBundle {
  /** the bundle's text, without the sourceMappingURL comment: must be the main script's source in the snapshot */
  code: string;
  map: SourceMapPayload;
}

const MIB = 2 ** 20;
const round = (x: number) => Math.round((x / MIB) * 100) / 100;

/** The module a bundled source path belongs to: an npm package, or a folder of src/ (scripts/ for the entry). */
export function moduleOf(source: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (pkg) return pkg[1]!;
  const own = /(?:^|\/)(src\/[^/]+|scripts)\//.exec(source);
  if (own) return own[1]!.replace(/\.ts$/, '');
  return source.replace(/^.*\//, '');
}

/**
 * `scriptName`: the main script's name in the snapshot (the SEA's `main`); `bundle`: that exact bundle with
 * its source map, for codeByModule (skipped when the snapshot's script is another build).
 */
export function summarizeHeapSnapshot(file: string, scriptName: string, bundle?: MappedBundle): HeapSummary {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const meta = raw.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const types = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = raw;
  const n = nodes.length / nf;
  const TYPE = meta.node_fields.indexOf('type');
  const NAME = meta.node_fields.indexOf('name');
  const SIZE = meta.node_fields.indexOf('self_size');
  const EDGES = meta.node_fields.indexOf('edge_count');
  const weak = edgeTypes.indexOf('weak');
  const shortcut = edgeTypes.indexOf('shortcut');
  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) {
    firstEdge[i] = e;
    e += nodes[i * nf + EDGES]! * ef;
    firstEdge[i + 1] = e;
  }
  const typeOf = (i: number) => types[nodes[i * nf + TYPE]!]!;
  const nameOf = (i: number) => strings[nodes[i * nf + NAME]!]!;
  const sizeOf = (i: number) => nodes[i * nf + SIZE]!;
  const strong = (e: number) => edges[e] !== weak && edges[e] !== shortcut;
  const edgeName = (e: number) => {
    const t = edgeTypes[edges[e]!];
    return t === 'element' || t === 'hidden' ? `[${edges[e + 1]}]` : strings[edges[e + 1]!]!;
  };
  const child = (i: number, name: string): number | undefined => {
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += ef) if (edgeName(e) === name) return edges[e + 2]! / nf;
    return undefined;
  };

  // Reachability and post-order from the root (node 0), strong edges only.
  const post: number[] = [];
  const seen = new Uint8Array(n);
  const cursor = new Uint32Array(n);
  const stack = [0];
  seen[0] = 1;
  cursor[0] = firstEdge[0]!;
  while (stack.length > 0) {
    const v = stack[stack.length - 1]!;
    if (cursor[v]! < firstEdge[v + 1]!) {
      const e = cursor[v]!;
      cursor[v] = e + ef;
      if (!strong(e)) continue;
      const w = edges[e + 2]! / nf;
      if (!seen[w]) {
        seen[w] = 1;
        cursor[w] = firstEdge[w]!;
        stack.push(w);
      }
    } else {
      stack.pop();
      post.push(v);
    }
  }
  const order = new Int32Array(n).fill(-1);
  post.forEach((v, i) => {
    order[v] = i;
  });
  // Predecessors, then dominators (Cooper, Harvey and Kennedy's iterative algorithm).
  const predStart = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) {
    if (!seen[v]) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef) if (strong(e)) predStart[edges[e + 2]! / nf + 1]!++;
  }
  for (let i = 0; i < n; i++) predStart[i + 1]! += predStart[i]!;
  const preds = new Uint32Array(predStart[n]!);
  const fill = predStart.slice(0, n);
  for (let v = 0; v < n; v++) {
    if (!seen[v]) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef) if (strong(e)) preds[fill[edges[e + 2]! / nf]!++] = v;
  }
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (order[a]! < order[b]!) a = idom[a]!;
      while (order[b]! < order[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = post.length - 1; i >= 0; i--) {
      const v = post[i]!;
      if (v === 0) continue;
      let d = -1;
      for (let p = predStart[v]!; p < predStart[v + 1]!; p++) {
        const u = preds[p]!;
        if (idom[u] === -1) continue;
        d = d === -1 ? u : intersect(u, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(n);
  for (const v of post) retained[v]! += sizeOf(v);
  for (const v of post) if (v !== 0 && idom[v]! >= 0) retained[idom[v]!]! += retained[v]!;

  let live = 0;
  const byKind = new Map<string, number>();
  for (const v of post) {
    const t = typeOf(v);
    const kind = t === 'object' || t === 'native' ? `${t}:${nameOf(v).replace(/ \/ .*$/, '')}` : t;
    byKind.set(kind, (byKind.get(kind) ?? 0) + sizeOf(v));
    live += sizeOf(v);
  }
  const kinds = [...byKind].sort((a, b) => b[1] - a[1]);
  const kindsOut: Record<string, number> = {};
  for (const [k, v] of kinds.slice(0, 12)) kindsOut[k] = round(v);
  kindsOut.other = round(kinds.slice(12).reduce((a, [, v]) => a + v, 0));

  // Owners: instances of named classes retaining ≥ 0.25 MiB, biggest first, each with what holds it.
  const generic = /^(Object|Array|Map|Set|Generator|system \/ .*|\(.*\)|)$/;
  const ownersOut: HeapSummary['owners'] = post
    .filter((v) => typeOf(v) === 'object' && !generic.test(nameOf(v)) && retained[v]! >= MIB / 4)
    .sort((a, b) => retained[b]! - retained[a]!)
    .slice(0, 15)
    .map((v) => {
      const d = idom[v]!;
      let field = '';
      for (let e = firstEdge[d]!; e < firstEdge[d + 1]!; e += ef) if (edges[e + 2]! / nf === v) field = `.${edgeName(e)}`;
      const holder =
        nameOf(d) === '' || nameOf(d).startsWith('system / ') ? `(${nameOf(d).replace('system / ', '') || typeOf(d)})` : nameOf(d);
      return { owner: `${holder}${field} → ${nameOf(v)}`, retainedMiB: round(retained[v]!) };
    });

  const summary: HeapSummary = { liveMiB: round(live), byKind: kindsOut, owners: ownersOut };
  const locations = raw.locations;
  const locFields = meta.location_fields ?? [];
  let mainScript: number | undefined;
  for (let v = 0; v < n && mainScript === undefined; v++) if (typeOf(v) === 'code' && nameOf(v) === scriptName) mainScript = v;
  const source = mainScript === undefined ? undefined : child(mainScript, 'source');
  // A snapshot keeps the first 1,024 characters of a string; its size says the length (a sequential string:
  // 16-byte header, 1 or 2 bytes a character, 8-byte aligned).
  const sameSource = (code: string) => {
    if (source === undefined || !code.startsWith(nameOf(source))) return false;
    const size = sizeOf(source);
    const aligned = (bytes: number) => Math.ceil((16 + bytes) / 8) * 8;
    return size === aligned(code.length) || size === aligned(2 * code.length);
  };
  if (bundle && !sameSource(bundle.code)) {
    summary.codeByModuleSkipped = `the snapshot's ${scriptName} is not the bundle the source map was made for`;
  } else if (bundle && locations && locFields.length > 0) {
    const map = new SourceMap(bundle.map);
    const lf = locFields.length;
    const OBJ = locFields.indexOf('object_index');
    const LINE = locFields.indexOf('line');
    const COL = locFields.indexOf('column');
    const counted = new Uint8Array(n);
    const byModule = new Map<string, number>();
    const add = (module: string, v: number | undefined) => {
      if (v === undefined || counted[v] || !seen[v]) return 0;
      counted[v] = 1;
      byModule.set(module, (byModule.get(module) ?? 0) + sizeOf(v));
      return 1;
    };
    for (let l = 0; l < locations.length; l += lf) {
      const closure = locations[l + OBJ]! / nf;
      if (typeOf(closure) !== 'closure') continue;
      const shared = child(closure, 'shared');
      if (shared === undefined) continue;
      const script = child(shared, 'script');
      if (script === undefined || nameOf(script) !== scriptName) continue;
      const entry = map.findEntry(locations[l + LINE]!, locations[l + COL]!) as { originalSource?: string };
      const module = entry.originalSource ? moduleOf(entry.originalSource) : '(unmapped)';
      add(module, closure);
      const cell = child(closure, 'feedback_cell');
      add(module, cell);
      if (cell !== undefined) add(module, child(cell, 'value'));
      if (add(module, shared) === 0) continue;
      for (const f of ['trusted_function_data', 'function_data', 'raw_outer_scope_info_or_feedback_metadata', 'name_or_scope_info']) {
        const c = child(shared, f);
        if (c === undefined || typeOf(c) !== 'code') continue;
        add(module, c);
        // a BytecodeArray's constant pool, handler and source position tables
        for (let e = firstEdge[c]!; e < firstEdge[c + 1]!; e += ef) {
          const w = edges[e + 2]! / nf;
          if (typeOf(w) === 'code' || typeOf(w) === 'array') add(module, w);
        }
      }
    }
    const modules = [...byModule].sort((a, b) => b[1] - a[1]);
    const out: Record<string, number> = {};
    for (const [m, v] of modules.slice(0, 15)) out[m] = round(v);
    out.other = round(modules.slice(15).reduce((a, [, v]) => a + v, 0));
    summary.codeByModule = out;
  }
  return summary;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [file, scriptName, mapFile] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/heapSnapshot.ts FILE.heapsnapshot [SCRIPT_NAME [BUNDLE.cjs.map beside BUNDLE.cjs]]\n');
    process.exit(2);
  }
  const bundle = mapFile
    ? {
        code: readFileSync(mapFile.replace(/\.map$/, ''), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, ''),
        map: JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload,
      }
    : undefined;
  process.stdout.write(`${JSON.stringify(summarizeHeapSnapshot(file, scriptName ?? 'defender-edge.cjs', bundle), null, 2)}\n`);
}
