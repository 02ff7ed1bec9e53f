// `defender-edge emulator`: the local Greengrass IPC emulator as a process. Prints one ready JSON line,
// then answers control commands from stdin (one JSON line each); EOF or SIGTERM stops it cleanly.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { LevelWithSilent } from 'pino';
import { BridgeConfigError } from '../ipc/emulator/bridgeMapping.ts';
import { isJsonObject, type JsonObject } from '../ipc/emulator/componentConfig.ts';
import { CONTROL_HELP, parseControlLine, runControlCommand } from '../ipc/emulator/controlChannel.ts';
import { DEFAULT_THING_NAME, EmulatorStartError, GreengrassEmulator } from '../ipc/emulator/emulator.ts';
import { RecipeError } from '../ipc/emulator/recipe.ts';
import { createLogger } from '../log.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const USAGE = `usage: defender-edge emulator [--socket PATH] [--recipe recipe.yaml] [--config overrides.json]
                              [--thing NAME] [--record FILE] [--offline] [--token SVCUID] [--log-level LEVEL]
                              [--mqtt PORT [--bridge bridge.json] [--mqtt-auth ID,ID...]]

  --socket   Unix socket to listen on (default ./ipc.socket; under 108 bytes)
  --recipe   component recipe, YAML or JSON (default ./recipe.yaml if present, else an embedded
             com.defender-edge.DefenderEdge identity with the access the component needs)
  --config   JSON object merged over the recipe's DefaultConfiguration
  --thing    thing name of the emulated core (default ${DEFAULT_THING_NAME})
  --record   append every message that reaches the simulated cloud to this JSON-lines file
  --offline  start with the simulated IoT Core disconnected
  --token    fixed SVCUID for the recipe's component (default random)
  --mqtt     run the client-device MQTT broker for downstream devices on 127.0.0.1:PORT (0 = a free
             port; the ready line then carries "mqtt":"mqtt://127.0.0.1:<port>"), bridged like
             aws.greengrass.clientdevices.mqtt.Bridge
  --bridge   JSON file {"mqttTopicMapping": {"<name>": {"topic", "source", "target"}}}, source/target
             one of LocalMqtt, Pubsub, IotCore (default: Device Defender reports and devices/# from
             LocalMqtt to Pubsub, their accepted/rejected answers and devices/# back)
  --mqtt-auth comma-separated client ids allowed to connect (default: every client on loopback)

stdin control commands (one per line, each answered by one JSON line on stdout):
${CONTROL_HELP.replace(/^/gm, '  ')}`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function readOverrides(path: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--config: ${path}: ${(err as Error).message}`);
  }
  if (!isJsonObject(value)) throw new UsageError(`--config: ${path}: must be a JSON object`);
  return value;
}

function readBridge(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--bridge: ${path}: ${(err as Error).message}`);
  }
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError('--mqtt: must be a port number 0-65535');
  return Number(text);
}

/** MQTT client ids: 1-65535 bytes of UTF-8 (MQTT 3.1.1 §3.1.3.1); commas separate the list here. */
function parseClientIds(text: string): string[] {
  const ids = text.split(',').map((s) => s.trim());
  if (ids.some((id) => id.length === 0 || Buffer.byteLength(id) > 65535))
    throw new UsageError('--mqtt-auth: must be a comma-separated list of non-empty client ids');
  return ids;
}

export async function emulatorCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      socket: { type: 'string' },
      recipe: { type: 'string' },
      config: { type: 'string' },
      thing: { type: 'string' },
      record: { type: 'string' },
      offline: { type: 'boolean' },
      token: { type: 'string' },
      mqtt: { type: 'string' },
      bridge: { type: 'string' },
      'mqtt-auth': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const socketPath = resolve(values.socket ?? 'ipc.socket');
  if (Buffer.byteLength(socketPath) > 107) throw new UsageError(`--socket: ${socketPath} is longer than 107 bytes (sun_path)`);
  const level = values['log-level'] ?? 'info';
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level: must be one of ${LEVELS.join(', ')}`);
  if (values.thing !== undefined && (values.thing.length === 0 || Buffer.byteLength(values.thing) > 128)) {
    throw new UsageError('--thing: must be 1-128 bytes');
  }
  if (values.token !== undefined && !/^[A-Za-z0-9]{1,64}$/.test(values.token))
    throw new UsageError('--token: must be 1-64 letters or digits');
  const recipe = values.recipe ?? (existsSync('recipe.yaml') ? resolve('recipe.yaml') : undefined);
  const overrides = values.config ? readOverrides(values.config) : undefined;
  const mqttPort = values.mqtt !== undefined ? parsePort(values.mqtt) : undefined;
  if (mqttPort === undefined && (values.bridge !== undefined || values['mqtt-auth'] !== undefined)) {
    throw new UsageError('--bridge and --mqtt-auth need --mqtt PORT');
  }
  const bridge = values.bridge !== undefined ? readBridge(values.bridge) : undefined;
  const mqttAllowedClientIds = values['mqtt-auth'] !== undefined ? parseClientIds(values['mqtt-auth']) : undefined;
  // stdout carries the ready line and command answers; logs go to stderr.
  const logger = createLogger({ level: level as LevelWithSilent, fd: 2, name: 'defender-edge-emulator' });

  let emulator: GreengrassEmulator;
  try {
    emulator = new GreengrassEmulator({
      socketPath,
      recipe,
      overrides,
      thingName: values.thing,
      recordFile: values.record,
      offline: values.offline,
      token: values.token,
      mqttPort,
      bridge,
      mqttAllowedClientIds,
      logger,
    });
  } catch (err) {
    if (err instanceof RecipeError) throw new UsageError(`--recipe: ${err.message}`);
    if (err instanceof BridgeConfigError) throw new UsageError(`--bridge: ${err.errors.join('; ')}`);
    throw err;
  }
  try {
    await emulator.start();
  } catch (err) {
    if (!(err instanceof EmulatorStartError)) throw err;
    process.stderr.write(`defender-edge emulator: ${err.message}\n`);
    return 1;
  }
  const print = (obj: unknown): void => {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  };

  return await new Promise<number>((done) => {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ why }, 'emulator stopping');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onTerm);
      lines.close();
      emulator.stop().then(
        () => done(0),
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          done(1);
        },
      );
    };
    const onTerm = (): void => stop('signal');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onTerm);
    // Commands run one at a time, in order, so answers come back in command order.
    let chain = Promise.resolve();
    lines.on('line', (line) => {
      chain = chain.then(async () => {
        const parsed = parseControlLine(line);
        if (parsed === null) return;
        if (!parsed.ok) {
          logger.warn({ reason: parsed.error }, 'bad control command');
          return print({ ok: false, error: parsed.error });
        }
        try {
          print(await runControlCommand(emulator, parsed.command));
        } catch (err) {
          print({ ok: false, error: `${parsed.command.kind}: ${(err as Error).message}` });
        }
      });
    });
    lines.on('close', () => {
      void chain.then(() => stop('stdin closed'));
    });
    // Last: whoever reads this line may signal us at once, so every handler must already be in place.
    const mqtt = emulator.mqttUrl;
    print({ ready: true, socket: socketPath, thingName: emulator.thingName, components: emulator.tokens(), ...(mqtt ? { mqtt } : {}) });
  });
}
