// interface-down: `ip link set dev DEV down`, reverted with `up`. Unlike nft elements a link state has
// no kernel timeout: the Enforcer's timer (and the persisted state after a restart) brings it back, and a
// watchdog process that outlives the agent does if the agent never comes back (linkWatchdog.ts).
import type { Logger } from '../log.ts';
import { CommandError, type CommandRunner } from '../system/commandRunner.ts';
import type { ApplyRequest, BackendMetrics, EnforcementBackend, ReadBack } from './actionModel.ts';
import type { WatchdogHandle } from './linkWatchdog.ts';
import { validateInterfaceName } from './targetValidation.ts';

/** Pure: `ip -j link show dev X` → the read-back of an interface-down (IFF_UP is the administrative state). */
export function readBackFromLinkShow(ifname: string, listing: string | null): Omit<ReadBack, 'at'> {
  if (listing === null) return { state: 'target-gone', observed: `interface ${ifname} does not exist` };
  const links = JSON.parse(listing) as Array<{ ifname?: unknown; flags?: unknown; operstate?: unknown }>;
  const link = Array.isArray(links) ? links.find((l) => l.ifname === ifname) : undefined;
  if (link === undefined || !Array.isArray(link.flags)) return { state: 'target-gone', observed: `interface ${ifname} not listed` };
  const oper = typeof link.operstate === 'string' ? ` (operstate ${link.operstate})` : '';
  return link.flags.includes('UP')
    ? { state: 'not-in-force', observed: `interface ${ifname} is up${oper}` }
    : { state: 'in-force', observed: `interface ${ifname} is down${oper}` };
}

export interface LinkBackendOptions {
  runner: CommandRunner;
  logger: Logger;
  /** starts the dead man's switch of an interface set down until `deadlineMs` */
  watchdog?: (ifname: string, deadlineMs: number) => WatchdogHandle;
  now?: () => number;
}

export class LinkBackend implements EnforcementBackend {
  readonly name = 'link' as const;
  readonly #o: LinkBackendOptions;
  readonly #counters: BackendMetrics = { applied: 0, reverted: 0, failed: 0 };
  readonly #watchdogs = new Map<string, WatchdogHandle>();

  constructor(options: LinkBackendOptions) {
    this.#o = options;
  }

  #ifname(req: ApplyRequest): string {
    if (req.type !== 'interface-down' || req.target.kind !== 'interface')
      throw new Error(`link backend cannot handle ${req.type} on a ${req.target.kind} target`);
    return validateInterfaceName(req.target.ifname, 'target.ifname');
  }

  async #set(ifname: string, state: 'up' | 'down', counter: 'applied' | 'reverted'): Promise<void> {
    try {
      await this.#o.runner.run('ip', ['link', 'set', 'dev', ifname, state]);
      this.#counters[counter]++;
    } catch (err) {
      this.#counters.failed++;
      throw err;
    }
  }

  async apply(req: ApplyRequest): Promise<string> {
    const ifname = this.#ifname(req);
    await this.#set(ifname, 'down', 'applied');
    if (this.#o.watchdog) {
      this.#watchdogs.get(ifname)?.stop();
      try {
        this.#watchdogs.set(ifname, this.#o.watchdog(ifname, (this.#o.now ?? Date.now)() + req.ttlMs));
      } catch (err) {
        this.#o.logger.warn({ err, ifname }, "interface watchdog not started; the agent's own timer still brings the link up");
      }
    }
    return `interface ${ifname} set down`;
  }

  async revert(req: ApplyRequest): Promise<string> {
    const ifname = this.#ifname(req);
    this.#watchdogs.get(ifname)?.stop();
    this.#watchdogs.delete(ifname);
    await this.#set(ifname, 'up', 'reverted');
    return `interface ${ifname} set up`;
  }

  async readBack(req: ApplyRequest): Promise<ReadBack> {
    const ifname = this.#ifname(req);
    let listing: string | null;
    try {
      listing = await this.#o.runner.run('ip', ['-j', 'link', 'show', 'dev', ifname]);
    } catch (err) {
      // iproute2: `Device "X" does not exist.`
      if (!(err instanceof CommandError) || !/does not exist/.test(err.stderr)) throw err;
      listing = null;
    }
    return { ...readBackFromLinkShow(ifname, listing), at: (this.#o.now ?? Date.now)() };
  }

  /** Watchdogs keep running: they are for an agent that stopped and does not come back. */
  async shutdown(): Promise<void> {}

  metrics(): BackendMetrics {
    return { ...this.#counters };
  }
}
