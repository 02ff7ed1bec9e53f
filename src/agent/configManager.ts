// The configuration lifecycle: read the component
// configuration over IPC, refuse a bad one in the ValidateConfigurationUpdates hook with its
// `path: message` errors, apply a good one without a restart, and keep the last good one on disk so a
// restart while the nucleus is away enforces at once with what it had.
//
// The hook is not always there, so every configuration is also validated where it is applied:
// - The Java nucleus asks validators only when a deployment changes a component's configuration and not
//   its version (https://github.com/aws-greengrass/aws-greengrass-nucleus,
//   deployment/DynamicComponentConfigurationValidator.java getComponentsToValidate); a new version (or a
//   first install) arrives unvalidated at the next start.
// - Nucleus lite has no validation operations at all: SubscribeToValidateConfigurationUpdates is answered
//   with a ServiceError (https://github.com/aws-greengrass/aws-greengrass-lite,
//   modules/ggipcd/src/ipc_dispatch.c, "Unhandled operation requested"). That is noticed once; from then
//   on configurations are validated on apply.
// A configuration refused at start or on apply leaves the last good one (or the defaults) in force, said in
// the log and in the health record. The component still reports RUNNING, not ERRORED: ERRORED makes the Java
// nucleus stop and restart the component, and BROKEN after three errors within an hour (lifecycle/Lifecycle.java
// MAXIMUM_CONTINUAL_ERROR), which would leave the gateway without the agent at all; a deployment fails only
// once a component is BROKEN (deployment/DeploymentConfigMerger.java areAllServiceInDesiredState). Lite
// ignores ERRORED anyway.
import { EventEmitter } from 'node:events';
import { LastGoodConfigStore } from '../config/lastGoodStore.ts';
import type { ComponentConfig } from '../config/schema.ts';
import { type ConfigCheck, defaultConfig, validateConfig } from '../config/validate.ts';
import { type GreengrassIpcClient, VALIDATION_SUBSCRIPTION } from '../ipc/ipcClient.ts';
import type { IpcError } from '../ipc/ipcError.ts';
import type { IpcSubscription, ValidationVerdict } from '../ipc/ipcTypes.ts';
import type { Logger } from '../log.ts';

export type ConfigSource = 'nucleus' | 'last-good' | 'defaults';

/**
 * Where a configuration is judged: in the nucleus's validation step (the hook answers before a deployment
 * applies it) or only when it is applied (this nucleus has no validation operations).
 */
export type ValidationMode = 'nucleus' | 'on-apply';

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
  private validationSub: IpcSubscription | undefined;
  private validation: ValidationMode = 'nucleus';
  /** an update read in progress, and whether another notification came meanwhile */
  private reading: Promise<void> | undefined;
  private readAgain = false;
  /** the last configuration refused on reading, as JSON, so a re-read of it is not counted twice */
  private lastRefused: string | undefined;
  /** A ServiceError is how nucleus lite answers an operation it does not implement. */
  private readonly onSubscriptionError = (description: string, err: IpcError): void => {
    if (description === VALIDATION_SUBSCRIPTION && err.errorCode === 'ServiceError') this.validationUnavailable(err);
  };
  private readonly onSubscriptionGaveUp = (description: string, err: IpcError): void => {
    if (description === VALIDATION_SUBSCRIPTION) this.validationUnavailable(err);
  };
  /** rejected configurations (hook refusals and bad reads), for health */
  rejected = 0;
  lastErrors: string[] = [];
  /** the configuration from the nucleus was refused when the agent started (it runs on `source`) */
  refusedAtStart = false;

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

  validationMode(): ValidationMode {
    return this.validation;
  }

  /**
   * The configuration to start with: the nucleus's when it answers (and it is valid), else the last good
   * one from disk, else the defaults. Never throws.
   */
  async load(connected: boolean): Promise<ComponentConfig> {
    if (connected) {
      const fromNucleus = await this.readFromNucleus('start');
      if (fromNucleus) return this.apply(fromNucleus, 'nucleus', false);
    }
    const saved = this.store.load();
    switch (saved.kind) {
      case 'ok':
        this.log.warn(
          { savedAt: new Date(saved.savedAt).toISOString(), refusedAtStart: this.refusedAtStart },
          this.refusedAtStart
            ? 'running on the last good configuration from disk, not on the refused one'
            : 'using the last good configuration from disk',
        );
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
    this.log.warn(
      { refusedAtStart: this.refusedAtStart },
      this.refusedAtStart
        ? 'running on the defaults, not on the refused configuration (no last good one)'
        : 'no usable configuration yet; running on the defaults',
    );
    return this.apply(defaultConfig(), 'defaults', false);
  }

  /** Subscribe to validation requests and to updates; both survive reconnects (the IPC client re-subscribes). */
  subscribe(): void {
    this.ipc.on('subscriptionError', this.onSubscriptionError);
    this.ipc.on('subscriptionGaveUp', this.onSubscriptionGaveUp);
    const validation = this.ipc.subscribeToValidateConfigurationUpdates((req) => this.judge(req.configuration, req.deploymentId));
    // (It can fail before this line returns; then there is nothing left to keep.)
    if (this.validation === 'nucleus') {
      this.validationSub = validation;
      this.subscriptions.push(validation);
    } else void validation.close();
    this.subscriptions.push(this.ipc.subscribeToConfigurationUpdate([], () => this.onUpdate()));
  }

  /** After a reconnect the configuration may have changed while we were away. */
  async refresh(): Promise<void> {
    const raw = await this.readFromNucleus('refresh');
    if (raw && JSON.stringify(raw) !== JSON.stringify(this.config)) this.apply(raw, 'nucleus', true);
  }

  async close(): Promise<void> {
    this.ipc.off('subscriptionError', this.onSubscriptionError);
    this.ipc.off('subscriptionGaveUp', this.onSubscriptionGaveUp);
    await Promise.all(this.subscriptions.splice(0).map((s) => s.close()));
    await this.reading;
  }

  /**
   * The nucleus has no validation step for this component (nucleus lite: ServiceError), or it kept failing:
   * stop asking, and judge every configuration where it is applied. Said once.
   */
  private validationUnavailable(err: IpcError): void {
    if (this.validation === 'on-apply') return;
    this.validation = 'on-apply';
    const sub = this.validationSub;
    this.validationSub = undefined;
    if (sub) {
      const i = this.subscriptions.indexOf(sub);
      if (i >= 0) this.subscriptions.splice(i, 1);
      void sub.close();
    }
    this.log.warn(
      { err, configSource: this.source },
      'the nucleus has no configuration validation step (nucleus lite does not implement SubscribeToValidateConfigurationUpdates): a configuration is validated when it is applied, and a refused one leaves the one in force',
    );
  }

  /**
   * A configuration changed. Nucleus lite notifies once per key it writes, so notifications arriving while
   * the configuration is being read are folded into one more read.
   */
  private onUpdate(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        const raw = await this.readFromNucleus('update');
        if (raw && JSON.stringify(raw) !== JSON.stringify(this.config)) this.apply(raw, 'nucleus', true);
      } while (this.readAgain);
    })().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
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
  private async readFromNucleus(when: 'start' | 'update' | 'refresh'): Promise<ComponentConfig | undefined> {
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
      this.lastRefused = undefined;
      return r.config;
    }
    // The same refused configuration read again (another notification for it) is not news.
    const fingerprint = safeStringify(raw);
    if (fingerprint !== undefined && fingerprint === this.lastRefused) return undefined;
    this.lastRefused = fingerprint;
    this.rejected++;
    this.lastErrors = r.errors;
    if (when === 'start') {
      this.refusedAtStart = true;
      this.log.error({ errors: r.errors }, 'configuration from the nucleus refused at start');
    } else {
      this.log.error(
        { errors: r.errors, validation: this.validation, configSource: this.source },
        'configuration from the nucleus refused when applied; the configuration in force stays',
      );
    }
    return undefined;
  }

  private apply(config: ComponentConfig, source: ConfigSource, emit: boolean): ComponentConfig {
    this.config = config;
    this.source = source;
    if (source === 'nucleus') {
      // A good configuration from the nucleus is in force: earlier refusals are history (still counted).
      this.refusedAtStart = false;
      this.lastErrors = [];
    }
    if (emit) {
      this.log.info({ source }, 'new configuration in force');
      this.emit('changed', config, source);
    }
    return config;
  }
}

function safeStringify(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}
