// A nucleus-lite stand-in for tests, built from the emulator's own pieces (wire protocol, connection,
// component store, operation handlers): the same server, answering the way nucleus lite answers where lite
// differs (aws-greengrass-lite 2.6.0, observed with a real build and read in its sources):
// - only the operations lite implements; any other one (SubscribeToValidateConfigurationUpdates,
//   SendConfigurationValidityReport, ...) gets a ServiceError with an EMPTY message
//   (modules/ggipcd/src/ipc_dispatch.c "Unhandled operation requested");
// - GetConfiguration answers every number and boolean as a string (lite decodes recipe YAML scalars as strings);
// - while the core's MQTT connection is down, PublishToIoTCore fails ("Failed to publish the message.", no
//   spooler) and so does SubscribeToIoTCore ("Failed to bind the subscription.")
//   (modules/ggipcd/src/services/mqttproxy/).
// `hold` parks chosen requests unanswered, for tests of a nucleus that makes a call wait. Not a test file itself.
import { unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { isJsonObject, type JsonObject, mergeConfig } from '../../src/ipc/emulator/componentConfig.ts';
import { type ChangeResult, ComponentStore } from '../../src/ipc/emulator/componentStore.ts';
import { IpcConnection, type ServerStream } from '../../src/ipc/emulator/connection.ts';
import { SimulatedIoTCore } from '../../src/ipc/emulator/iotCore.ts';
import { LocalPubSub } from '../../src/ipc/emulator/localPubSub.ts';
import { dispatchOperation, type OperationDeps } from '../../src/ipc/emulator/operations.ts';
import { loadRecipeFile } from '../../src/ipc/emulator/recipe.ts';
import { silentLogger } from '../../src/log.ts';

/** What ggipcd 2.6.0 serves to a generic component (modules/ggipcd/src/services). */
export const LITE_OPERATIONS: ReadonlySet<string> = new Set([
  'PublishToTopic',
  'SubscribeToTopic',
  'PublishToIoTCore',
  'SubscribeToIoTCore',
  'GetConfiguration',
  'UpdateConfiguration',
  'SubscribeToConfigurationUpdate',
  'UpdateState',
  'CreateLocalDeployment',
  'RestartComponent',
]);

/** Every number and boolean as its string, as lite's GetConfiguration returns recipe values. */
export function stringifyScalars(v: unknown): unknown {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(stringifyScalars);
  if (isJsonObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stringifyScalars(x)]));
  return v;
}

export interface LiteNucleusOptions {
  socketPath: string;
  recipe: string;
  overrides?: JsonObject;
  token: string;
  /** the core's MQTT connection (default: down) */
  online?: boolean;
  /** JSON-lines record of every message that reaches the simulated cloud */
  recordFile?: string;
  /**
   * Requests this returns true for get no answer until release(): how the Java nucleus treats a
   * SubscribeToIoTCore while the core is offline (it answers once connected), for tests of a nucleus that waits.
   */
  hold?: (operation: string) => boolean;
}

export class LiteNucleus {
  readonly cloud: SimulatedIoTCore;
  /** operation name → how many times a component asked for it */
  readonly asked = new Map<string, number>();
  private readonly components: ComponentStore;
  private readonly componentName: string;
  private readonly deps: OperationDeps;
  private readonly connections = new Set<IpcConnection>();
  private server: Server | null = null;
  private online: boolean;
  private readonly options: LiteNucleusOptions;
  private held: Array<{ operation: string; request: unknown; stream: ServerStream }> = [];

  constructor(options: LiteNucleusOptions) {
    this.options = options;
    this.cloud = new SimulatedIoTCore({ online: true, recordFile: options.recordFile });
    const recipe = loadRecipeFile(options.recipe);
    this.componentName = recipe.componentName;
    this.components = new ComponentStore(1000, () => undefined);
    const config = mergeConfig(recipe.defaultConfiguration, options.overrides ?? {});
    this.components.add(recipe.componentName, isJsonObject(config) ? config : {}, options.token);
    this.online = options.online ?? false;
    this.deps = {
      components: this.components,
      iotCore: this.cloud,
      pubsub: new LocalPubSub(),
      log: silentLogger(),
      now: Date.now,
      onStateChange: () => undefined,
    };
  }

  count(operation: string): number {
    return this.asked.get(operation) ?? 0;
  }

  setOnline(online: boolean): void {
    this.online = online;
  }

  /** Requests held and still open. */
  heldCount(): number {
    return this.held.filter((h) => h.stream.isOpen()).length;
  }

  /** Answer the held requests now (those the client has not given up on). */
  release(): void {
    for (const h of this.held.splice(0)) if (h.stream.isOpen()) this.answer(h.operation, h.request, h.stream);
  }

  /** A configuration change (as a deployment writes it); lite has no validators to ask. */
  changeConfig(patch: unknown): Promise<ChangeResult> {
    return this.components.change(this.componentName, [], patch, Date.now());
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.onSocket(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.socketPath, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.options.socketPath);
    } catch {
      // already removed by close()
    }
    this.cloud.close();
  }

  private onSocket(socket: Socket): void {
    const conn = new IpcConnection(
      socket,
      {
        authenticate: (token) => this.components.nameForToken(token),
        dispatch: (operation, request, stream) => this.dispatch(operation, request, stream),
        onProtocolError: () => undefined,
      },
      silentLogger(),
    );
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
  }

  private dispatch(operation: string, request: unknown, stream: ServerStream): void {
    const name = operation.replace(/^aws\.greengrass#/, '');
    this.asked.set(name, this.count(name) + 1);
    if (this.options.hold?.(name)) {
      this.held.push({ operation, request, stream });
      return;
    }
    this.answer(operation, request, stream);
  }

  private answer(operation: string, request: unknown, stream: ServerStream): void {
    const name = operation.replace(/^aws\.greengrass#/, '');
    if (!LITE_OPERATIONS.has(name)) return stream.fail('ServiceError', '');
    if (!this.online && name === 'PublishToIoTCore') return stream.fail('ServiceError', 'Failed to publish the message.');
    if (!this.online && name === 'SubscribeToIoTCore') return stream.fail('ServiceError', 'Failed to bind the subscription.');
    dispatchOperation(operation, request, name === 'GetConfiguration' ? scalarsAsStrings(stream) : stream, this.deps);
  }
}

/** The same stream, with the response's configuration value turned into strings on the way out. */
function scalarsAsStrings(stream: ServerStream): ServerStream {
  return {
    get component() {
      return stream.component;
    },
    get operation() {
      return stream.operation;
    },
    isOpen: () => stream.isOpen(),
    respond: (body) => stream.respond({ ...body, value: stringifyScalars((body as { value?: unknown }).value) }),
    accept: () => stream.accept(),
    event: (shape, body) => stream.event(shape, body),
    fail: (code, message, extra) => stream.fail(code, message, extra),
    failUnmodeled: (text) => stream.failUnmodeled(text),
    failUnsupported: (body) => stream.failUnsupported(body),
    close: () => stream.close(),
    onClose: (fn) => stream.onClose(fn),
  };
}
