// interface-down: `ip link set dev DEV down`, reverted with `up`. Unlike nft elements a link state has
// no kernel timeout: the Enforcer's timer (and the persisted state after a restart) brings it back.
import type { Logger } from '../../log.ts';
import type { ApplyRequest, BackendEntry, BackendMetrics, EnforcementBackend } from './actionModel.ts';
import type { CommandRunner } from './commandRunner.ts';
import { validateInterfaceName } from './targetValidation.ts';

export interface LinkBackendOptions {
  runner: CommandRunner;
  logger: Logger;
}

export class LinkBackend implements EnforcementBackend {
  readonly name = 'link' as const;
  readonly #o: LinkBackendOptions;
  readonly #counters: BackendMetrics = { applied: 0, reverted: 0, failed: 0 };
  readonly #down = new Map<string, BackendEntry>();

  constructor(options: LinkBackendOptions) {
    this.#o = options;
  }

  async init(): Promise<void> {}

  #ifname(req: ApplyRequest): string {
    if (req.type !== 'interface-down' || req.target.kind !== 'interface') throw new Error(`link backend cannot handle ${req.type} on a ${req.target.kind} target`);
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
    this.#down.set(ifname, { type: req.type, target: req.target });
    return `interface ${ifname} set down`;
  }

  async revert(req: ApplyRequest): Promise<string> {
    const ifname = this.#ifname(req);
    this.#down.delete(ifname);
    await this.#set(ifname, 'up', 'reverted');
    return `interface ${ifname} set up`;
  }

  async list(): Promise<BackendEntry[]> {
    return [...this.#down.values()];
  }

  async shutdown(): Promise<void> {}

  metrics(): BackendMetrics {
    return { ...this.#counters };
  }
}
