// Address blocks and interface quarantine in an nftables table the component owns (`inet <nftTable>`).
// Every element carries a kernel timeout (CrowdSec bouncer habit): if the agent dies, blocks still end
// on time, and a crash never leaves a permanent block. Each change is one `nft -f -` transaction.
import type { Logger } from '../log.ts';
import { CommandError, type CommandRunner } from '../system/commandRunner.ts';
import type { ActionTarget, ApplyRequest, BackendMetrics, EnforceActionType, EnforcementBackend, ReadBack } from './actionModel.ts';
import { parseAddress, validateInterfaceName } from './targetValidation.ts';

const TABLE_NAME = /^[a-zA-Z0-9_]{1,32}$/;

export const NFT_SETS = { block4: 'block4', block6: 'block6', quarantine: 'quarantine_if' } as const;

/** The whole table as one idempotent batch: sets keep their elements, chains are rebuilt atomically. */
export function tableBatch(table: string): string {
  const t = `inet ${table}`;
  // Priority filter-10: a drop in any base chain is final, so order only matters for our counters.
  const hook = (name: string) => `add chain ${t} ${name} { type filter hook ${name} priority filter - 10; policy accept; }`;
  return [
    `add table ${t}`,
    `add set ${t} ${NFT_SETS.block4} { type ipv4_addr; flags timeout; }`,
    `add set ${t} ${NFT_SETS.block6} { type ipv6_addr; flags timeout; }`,
    `add set ${t} ${NFT_SETS.quarantine} { type ifname; flags timeout; }`,
    hook('input'),
    hook('forward'),
    hook('output'),
    `flush chain ${t} input`,
    `flush chain ${t} forward`,
    `flush chain ${t} output`,
    `add rule ${t} input iifname @${NFT_SETS.quarantine} drop`,
    `add rule ${t} input ip saddr @${NFT_SETS.block4} drop`,
    `add rule ${t} input ip6 saddr @${NFT_SETS.block6} drop`,
    `add rule ${t} forward iifname @${NFT_SETS.quarantine} drop`,
    `add rule ${t} forward oifname @${NFT_SETS.quarantine} drop`,
    `add rule ${t} forward ip saddr @${NFT_SETS.block4} drop`,
    `add rule ${t} forward ip daddr @${NFT_SETS.block4} drop`,
    `add rule ${t} forward ip6 saddr @${NFT_SETS.block6} drop`,
    `add rule ${t} forward ip6 daddr @${NFT_SETS.block6} drop`,
    `add rule ${t} output oifname @${NFT_SETS.quarantine} drop`,
    `add rule ${t} output ip daddr @${NFT_SETS.block4} drop`,
    `add rule ${t} output ip6 daddr @${NFT_SETS.block6} drop`,
    '',
  ].join('\n');
}

/** set name + element text for one target value, validated (nothing unvalidated reaches nft). */
function elementsOf(req: ApplyRequest): Array<{ set: string; elem: string }> {
  const t = req.target;
  if (req.type === 'address-block' && t.kind === 'addresses') {
    return t.addresses.map((a, i) => {
      const p = parseAddress(a, `target.addresses[${i}]`);
      return { set: p.family === 4 ? NFT_SETS.block4 : NFT_SETS.block6, elem: p.text };
    });
  }
  if (req.type === 'interface-quarantine' && t.kind === 'interface') {
    return [{ set: NFT_SETS.quarantine, elem: `"${validateInterfaceName(t.ifname, 'target.ifname')}"` }];
  }
  throw new Error(`nft backend cannot handle ${req.type} on a ${t.kind} target`);
}

/**
 * Pure: the batch that (re)sets elements with a fresh timeout. `add` alone would keep an existing
 * element's old timeout, and `delete` of a missing element aborts the batch, so: add (ensure), delete,
 * add with timeout — atomic, whatever was there before.
 */
export function applyBatch(table: string, req: ApplyRequest): string {
  const ttlMs = Math.max(1, Math.ceil(req.ttlMs));
  return `${elementsOf(req)
    .flatMap(({ set, elem }) => [
      `add element inet ${table} ${set} { ${elem} }`,
      `delete element inet ${table} ${set} { ${elem} }`,
      `add element inet ${table} ${set} { ${elem} timeout ${ttlMs}ms }`,
    ])
    .join('\n')}\n`;
}

/** Pure: removes the elements whether or not they already expired. */
export function revertBatch(table: string, req: ApplyRequest): string {
  return `${elementsOf(req)
    .flatMap(({ set, elem }) => [`add element inet ${table} ${set} { ${elem} }`, `delete element inet ${table} ${set} { ${elem} }`])
    .join('\n')}\n`;
}

/** An element of one of our sets, as the kernel reports it. */
export interface NftElement {
  type: EnforceActionType;
  target: ActionTarget;
  /** remaining time as the kernel reports it (whole seconds) */
  expiresInMs?: number;
}

/** Pure: `nft -j list table inet TABLE` → the elements in force (what an operator or a test reads back). */
export function parseTableJson(text: string): NftElement[] {
  const doc = JSON.parse(text) as { nftables?: unknown };
  if (!Array.isArray(doc.nftables)) throw new Error('nft -j: no nftables array');
  const out: NftElement[] = [];
  for (const obj of doc.nftables) {
    const set = (obj as { set?: { name?: unknown; elem?: unknown } }).set;
    if (set === undefined || !Array.isArray(set.elem)) continue;
    for (const e of set.elem) {
      const inner =
        typeof e === 'object' && e !== null && 'elem' in e ? (e as { elem: { val?: unknown; expires?: unknown } }).elem : { val: e };
      if (typeof inner.val !== 'string') continue;
      const expiresInMs =
        typeof (inner as { expires?: unknown }).expires === 'number' ? (inner as { expires: number }).expires * 1000 : undefined;
      const base = expiresInMs === undefined ? {} : { expiresInMs };
      if (set.name === NFT_SETS.quarantine)
        out.push({ type: 'interface-quarantine', target: { kind: 'interface', ifname: inner.val }, ...base });
      else if (set.name === NFT_SETS.block4 || set.name === NFT_SETS.block6)
        out.push({ type: 'address-block', target: { kind: 'addresses', addresses: [inner.val] }, ...base });
    }
  }
  return out;
}

/**
 * Pure: whether every element of `req` is in the table `nft -j list table` printed (`null`: the table
 * does not exist). An element missing from its set was deleted by someone: not in force. A missing table
 * is a ruleset reload or flush (a firewall service restart does that), not a decision about this action:
 * `lost`, and the enforcer applies it again.
 */
export function readBackFromTable(table: string, req: ApplyRequest, listing: string | null): Omit<ReadBack, 'at'> {
  if (listing === null) return { state: 'lost', observed: `table inet ${table} does not exist (ruleset flushed or reloaded)` };
  const entries = parseTableJson(listing);
  const canonical = (text: string): string => {
    try {
      return parseAddress(text).text;
    } catch {
      return text;
    }
  };
  const present = new Map<string, number | undefined>();
  for (const e of entries) {
    if (e.target.kind === 'addresses') for (const a of e.target.addresses) present.set(`addr:${canonical(a)}`, e.expiresInMs);
    else if (e.target.kind === 'interface') present.set(`if:${e.target.ifname}`, e.expiresInMs);
  }
  const seen: string[] = [];
  const missing: string[] = [];
  for (const { set, elem } of elementsOf(req)) {
    const key = set === NFT_SETS.quarantine ? `if:${elem.slice(1, -1)}` : `addr:${elem}`;
    if (!present.has(key)) {
      missing.push(`${elem} not in inet ${table} ${set}`);
      continue;
    }
    const ms = present.get(key);
    seen.push(`${elem} in inet ${table} ${set}${ms === undefined ? '' : `, expires in ${Math.round(ms / 1000)} s`}`);
  }
  if (missing.length > 0) return { state: 'not-in-force', observed: [...missing, ...seen].join('; ') };
  return { state: 'in-force', observed: seen.join('; ') };
}

export interface NftBackendOptions {
  runner: CommandRunner;
  table: string;
  logger: Logger;
}

export class NftBackend implements EnforcementBackend {
  readonly name = 'nft' as const;
  readonly #o: NftBackendOptions;
  readonly #counters: BackendMetrics = { applied: 0, reverted: 0, failed: 0 };
  #ready: Promise<void> | null = null;

  constructor(options: NftBackendOptions) {
    if (!TABLE_NAME.test(options.table))
      throw new Error(`enforcement.nftTable: must match ${TABLE_NAME.source}, got ${JSON.stringify(options.table)}`);
    this.#o = options;
  }

  /** Creates or repairs the table once; existing elements (blocks from before a restart) are kept. */
  #ensureTable(): Promise<void> {
    this.#ready ??= this.#o.runner.run('nft', ['-f', '-'], { input: tableBatch(this.#o.table) }).then(
      () => undefined,
      (err: unknown) => {
        this.#ready = null; // let the next call retry (nft may be installed later)
        throw err;
      },
    );
    return this.#ready;
  }

  async #batch(batch: string, counter: 'applied' | 'reverted'): Promise<void> {
    try {
      await this.#ensureTable();
      await this.#o.runner.run('nft', ['-f', '-'], { input: batch });
      this.#counters[counter]++;
    } catch (err) {
      this.#counters.failed++;
      this.#ready = null; // the table may have been deleted under us: the next change re-creates it
      throw err;
    }
  }

  async apply(req: ApplyRequest): Promise<string> {
    const batch = applyBatch(this.#o.table, req);
    await this.#batch(batch, 'applied');
    const what = elementsOf(req)
      .map((e) => e.elem)
      .join(', ');
    return `${req.type === 'address-block' ? 'blocked' : 'quarantined'} ${what} in inet ${this.#o.table} for ${Math.ceil(req.ttlMs / 1000)} s (kernel timeout)`;
  }

  async revert(req: ApplyRequest): Promise<string> {
    await this.#batch(revertBatch(this.#o.table, req), 'reverted');
    return `removed ${elementsOf(req)
      .map((e) => e.elem)
      .join(', ')} from inet ${this.#o.table}`;
  }

  async #listing(): Promise<string | null> {
    try {
      return await this.#o.runner.run('nft', ['-j', 'list', 'table', 'inet', this.#o.table]);
    } catch (err) {
      // nft says "No such file or directory" for a table that does not exist; anything else (nft itself not
      // found included) is a failed read.
      if (!(err instanceof CommandError) || err.kind !== 'failed' || !/No such file or directory/.test(err.stderr)) throw err;
      this.#ready = null;
      return null;
    }
  }

  async readBack(req: ApplyRequest): Promise<ReadBack> {
    const listing = await this.#listing();
    return { ...readBackFromTable(this.#o.table, req, listing), at: Date.now() };
  }

  /** Many at once from one listing of the table (a reconcile pass over every block in force). */
  async readBackAll(reqs: readonly ApplyRequest[]): Promise<ReadBack[]> {
    const listing = await this.#listing();
    const at = Date.now();
    return reqs.map((req) => ({ ...readBackFromTable(this.#o.table, req, listing), at }));
  }

  /** Nothing to do: elements keep their kernel timeouts after we exit (that is the point). */
  async shutdown(): Promise<void> {}

  metrics(): BackendMetrics {
    return { ...this.#counters };
  }
}
