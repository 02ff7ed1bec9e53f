// The configuration lifecycle: read the component
// configuration over IPC, refuse a bad one in the ValidateConfigurationUpdates hook with its
// `path: message` errors, apply a good one without a restart, and keep the last good one on disk so a
// restart while the nucleus is away enforces at once with what it had.
import { EventEmitter } from 'node:events';
import { LastGoodConfigStore } from '../config/lastGoodStore.ts';
import type { ComponentConfig } from '../config/schema.ts';
import { type ConfigCheck, defaultConfig, validateConfig } from '../config/validate.ts';
import type { GreengrassIpcClient } from '../ipc/ipcClient.ts';
import type { IpcSubscription, ValidationVerdict } from '../ipc/ipcTypes.ts';
import type { Logger } from '../log.ts';

export type ConfigSource = 'nucleus' | 'last-good' | 'defaults';

export interface ConfigManagerEvents {
  /** a new configuration is in force */
  changed: [config: ComponentConfig, source: ConfigSource];
}

export interface ConfigManagerOptions {
  ipc: GreengrassIpcClient;
  lastGoodPath: string;
  /** every capability's checks on top of the schema (configChecks.ts) */
  checks: readonly ConfigCheck[];
  logger: Logger;
  now?: () => number;
}

const MAX_ERRORS_IN_VERDICT = 20;

export class ConfigManager extends EventEmitter<ConfigManagerEvents> {
  private readonly ipc: GreengrassIpcClient;
  private readonly store: LastGoodConfigStore;
  private readonly checks: readonly ConfigCheck[];
  private readonly log: Logger;
  private readonly now: () => number;
  private config: ComponentConfig | undefined;
  private source: ConfigSource = 'defaults';
  private readonly subscriptions: IpcSubscription[] = [];
  /** rejected configurations (hook refusals and bad reads), for health */
  rejected = 0;
  lastErrors: string[] = [];

  constructor(options: ConfigManagerOptions) {
    super();
    this.ipc = options.ipc;
    this.checks = options.checks;
    this.store = new LastGoodConfigStore(options.lastGoodPath, options.checks);
    this.log = options.logger.child({ module: 'config' });
    this.now = options.now ?? Date.now;
  }

  current(): ComponentConfig {
    if (!this.config) throw new Error('configuration not loaded yet');
    return this.config;
  }

  currentSource(): ConfigSource {
    return this.source;
  }

  /**
   * The configuration to start with: the nucleus's when it answers (and it is valid), else the last good
   * one from disk, else the defaults. Never throws.
   */
  async load(connected: boolean): Promise<ComponentConfig> {
    if (connected) {
      const fromNucleus = await this.readFromNucleus();
      if (fromNucleus) return this.apply(fromNucleus, 'nucleus', false);
    }
    const saved = this.store.load();
    switch (saved.kind) {
      case 'ok':
        this.log.warn({ savedAt: new Date(saved.savedAt).toISOString() }, 'using the last good configuration from disk');
        return this.apply(saved.config, 'last-good', false);
      case 'corrupt':
        this.log.error({ reason: saved.error, quarantinedTo: saved.quarantinedTo }, 'last good configuration unreadable; moved aside');
        break;
      case 'invalid':
        this.log.error({ errors: saved.errors }, 'last good configuration no longer validates; ignored');
        break;
      case 'missing':
        break;
    }
    this.log.warn('no usable configuration yet; running on the defaults');
    return this.apply(defaultConfig(), 'defaults', false);
  }

  /** Subscribe to validation requests and to updates; both survive reconnects (the IPC client re-subscribes). */
  subscribe(): void {
    this.subscriptions.push(
      this.ipc.subscribeToValidateConfigurationUpdates((req) => this.judge(req.configuration, req.deploymentId)),
      this.ipc.subscribeToConfigurationUpdate([], async () => {
        const raw = await this.readFromNucleus();
        if (raw) this.apply(raw, 'nucleus', true);
      }),
    );
  }

  /** After a reconnect the configuration may have changed while we were away. */
  async refresh(): Promise<void> {
    const raw = await this.readFromNucleus();
    if (raw && JSON.stringify(raw) !== JSON.stringify(this.config)) this.apply(raw, 'nucleus', true);
  }

  async close(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((s) => s.close()));
  }

  private judge(configuration: Record<string, unknown>, deploymentId: string): ValidationVerdict {
    const r = validateConfig(configuration, this.checks);
    if (r.ok) {
      this.log.info({ deploymentId }, 'configuration update accepted by validation');
      return { accepted: true };
    }
    this.rejected++;
    this.lastErrors = r.errors;
    this.log.warn({ deploymentId, errors: r.errors }, 'configuration update refused');
    const shown = r.errors.slice(0, MAX_ERRORS_IN_VERDICT);
    const more = r.errors.length - shown.length;
    return { accepted: false, message: shown.join('; ') + (more > 0 ? `; … and ${more} more` : '') };
  }

  /** The validated configuration from the nucleus, or undefined (logged) when unreachable or invalid. */
  private async readFromNucleus(): Promise<ComponentConfig | undefined> {
    let raw: unknown;
    try {
      raw = await this.ipc.getConfiguration([]);
    } catch (err) {
      this.log.warn({ err }, 'could not read the configuration over IPC');
      return undefined;
    }
    const r = validateConfig(raw, this.checks);
    if (r.ok) {
      try {
        this.store.saveValidated(raw as Record<string, unknown>, this.now());
      } catch (err) {
        // Disk full or read-only: the configuration still applies; only the offline fallback is stale.
        this.log.error({ err }, 'could not persist the last good configuration');
      }
      return r.config;
    }
    this.rejected++;
    this.lastErrors = r.errors;
    this.log.error({ errors: r.errors }, 'configuration from the nucleus is invalid; keeping the last good one');
    return undefined;
  }

  private apply(config: ComponentConfig, source: ConfigSource, emit: boolean): ComponentConfig {
    this.config = config;
    this.source = source;
    if (emit) {
      this.log.info({ source }, 'new configuration in force');
      this.emit('changed', config, source);
    }
    return config;
  }
}
