// Simulation mode for free (CrowdSec bouncer habit): receives exactly what a real backend would, logs
// it, changes nothing. Selected by `enforcement.mode: dry-run` or a behavior's `action.dryRun`.
import type { Logger } from '../log.ts';
import type { ApplyRequest, BackendMetrics, EnforcementBackend, ReadBack } from './actionModel.ts';
import { describeTarget } from './decisionText.ts';

export class DryRunBackend implements EnforcementBackend {
  readonly name = 'dry-run' as const;
  readonly #logger: Logger;
  readonly #counters: BackendMetrics = { applied: 0, reverted: 0, failed: 0 };

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  async apply(req: ApplyRequest): Promise<string> {
    const detail = `dry-run: would ${req.type} ${describeTarget(req.target)} for ${Math.ceil(req.ttlMs / 1000)} s`;
    this.#counters.applied++;
    this.#logger.info({ action: req.type, target: req.target, ttlMs: req.ttlMs }, detail);
    return detail;
  }

  async revert(req: ApplyRequest): Promise<string> {
    const detail = `dry-run: would revert ${req.type} on ${describeTarget(req.target)}`;
    this.#counters.reverted++;
    this.#logger.info({ action: req.type, target: req.target }, detail);
    return detail;
  }

  async readBack(): Promise<ReadBack> {
    return { state: 'simulated', observed: 'dry-run: nothing was changed', at: Date.now() };
  }

  async shutdown(): Promise<void> {}

  metrics(): BackendMetrics {
    return { ...this.#counters };
  }
}
