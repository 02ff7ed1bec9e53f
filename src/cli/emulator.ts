// `defender-edge emulator`: the local Greengrass IPC emulator as a process. Prints one ready JSON line,
// then answers control commands (one JSON line each) from stdin, a named pipe or nowhere (`--control`);
// SIGTERM, SIGINT or the end of stdin stops it cleanly.
import { execFile } from 'node:child_process';
import { constants, existsSync, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { LevelWithSilent } from 'pino';
import type { JsonObject } from '../ipc/emulator/componentConfig.ts';
import { CONTROL_HELP, parseControlLine, runControlCommand } from '../ipc/emulator/controlChannel.ts';
import { CertificateError, type DeviceCredentials } from '../ipc/emulator/coreDeviceCa.ts';
import { DEFAULT_THING_NAME, EmulatorStartError, GreengrassEmulator } from '../ipc/emulator/emulator.ts';
import { isNucleusFlavor, NUCLEUS_FLAVORS } from '../ipc/emulator/flavor.ts';
import { RecipeError } from '../ipc/emulator/recipe.ts';
import { createLogger } from '../log.ts';
import { isPlainObject } from '../plainObject.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const USAGE = `usage: defender-edge emulator [--nucleus classic|lite] [--socket PATH] [--recipe recipe.yaml]
                              [--config overrides.json] [--deployment deployment.json] [--thing NAME]
                              [--record FILE] [--offline] [--token SVCUID] [--log-level LEVEL]
                              [--control stdin|none|fifo:PATH]
                              [--mqtt PORT [--cert-dir DIR] [--issue-cert THING ...]]

  --nucleus    which Greengrass core to behave like (default classic):
               classic  the Java nucleus: every IPC operation a component uses, configuration validation
                        for configuration-only deployments, spooler while offline, and with --mqtt the
                        client-device components (TLS broker, client device auth, MQTT bridge)
               lite     nucleus lite: its IPC operations only (others: ServiceError with an empty
                        message), numbers as strings in GetConfiguration, 255 sub-objects / 10,000 bytes,
                        no spooler, recipes need a manifest with Platform runtime "*" or "aws_nucleus_lite"
  --socket     Unix socket to listen on (default ./ipc.socket; under 108 bytes)
  --recipe     component recipe, YAML or JSON (default ./recipe.yaml if present, else an embedded
               com.defender-edge.DefenderEdge identity with the access the component needs)
  --config     JSON object merged over the recipe's DefaultConfiguration
  --deployment a deployment document applied at start, as for \`aws greengrassv2 create-deployment\`:
               {"components": {"<name>": {"componentVersion": "1.0.0", "configurationUpdate":
               {"merge": "<JSON object as a string>", "reset": ["/json/pointer"]}}}}; with --mqtt it
               configures aws.greengrass.clientdevices.Auth (deviceGroups) and
               aws.greengrass.clientdevices.mqtt.Bridge (mqttTopicMapping) — nothing is bridged or
               authorized without them
  --thing      thing name of the emulated core (default ${DEFAULT_THING_NAME})
  --record     append every message that reaches the simulated cloud to this JSON-lines file
  --offline    start with the simulated IoT Core disconnected
  --token      fixed SVCUID for the recipe's component (default random; lite: 16 base64 characters)
  --log-level  ${LEVELS.join(', ')} (logs go to stderr; default info)
  --control    where control commands come from (answers always go to stdout):
               stdin      (default) one command per line; end of input stops the emulator
               none       no commands; runs until SIGTERM or SIGINT — for \`emulator ... &\` in a shell, where
                          reading the terminal would stop the job ("Stopped (tty input)"), and for scripts
                          whose stdin is not a terminal
               fifo:PATH  commands written to the named pipe PATH (created, mode 0600, removed at exit if
                          the emulator made it), from any number of writers one after another:
                          \`echo status > PATH\`; runs until SIGTERM or SIGINT
  --mqtt       classic only: the client-device broker on 127.0.0.1:PORT (0 = a free port), MQTT over
               TLS with client certificates issued by the emulator's core device CA
  --cert-dir   where the CA lives (ca.pem, ca.key; reused when present; default a temp dir removed at exit)
  --issue-cert issue a device certificate for a thing at start (repeatable); written to the cert dir as
               <thing>.cert.pem / <thing>.key.pem and listed in the ready line

Ready line (one JSON object on stdout): {"ready": true, "nucleus", "socket", "thingName",
"components": {"<name>": "<SVCUID>"}, and with --mqtt "mqtt": "mqtts://127.0.0.1:<port>", "ca": "<ca.pem>",
"deviceCerts": {"<thing>": {"certPath", "keyPath"}}}

stdin control commands (one per line, each answered by one JSON line on stdout):
${CONTROL_HELP.replace(/^/gm, '  ')}`;

function readJsonFile(option: string, path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${option}: ${path}: ${(err as Error).message}`);
  }
}

function readOverrides(path: string): JsonObject {
  const value = readJsonFile('--config', path);
  if (!isPlainObject(value)) throw new UsageError(`--config: ${path}: must be a JSON object`);
  return value;
}

type ControlSpec = { kind: 'stdin' } | { kind: 'none' } | { kind: 'fifo'; path: string };

function parseControl(text: string | undefined): ControlSpec {
  if (text === undefined || text === 'stdin') return { kind: 'stdin' };
  if (text === 'none') return { kind: 'none' };
  if (text.startsWith('fifo:') && text.length > 5) return { kind: 'fifo', path: resolve(text.slice(5)) };
  throw new UsageError(`--control: must be stdin, none or fifo:PATH, got '${text}'`);
}

/**
 * The named pipe as a readable stream that never ends: opened read-write, so a writer closing its end is
 * not an end of input (fifo(7)), and read through a non-blocking pipe handle instead of a thread-pool read
 * that would block the emulator's exit. Returns the stream and how to let go of it.
 */
async function openFifo(path: string): Promise<{ input: Readable; close: () => void }> {
  let created = false;
  if (!existsSync(path)) {
    try {
      await promisify(execFile)('mkfifo', ['-m', '600', '--', path]);
    } catch (err) {
      throw new UsageError(`--control: cannot create the named pipe ${path}: ${(err as Error).message.split('\n')[0]}`);
    }
    created = true;
  } else if (!statSync(path).isFIFO()) {
    throw new UsageError(`--control: ${path} exists and is not a named pipe`);
  }
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  const input = new Socket({ fd, readable: true, writable: false });
  return {
    input,
    close: () => {
      input.destroy();
      if (created) {
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to clean up
        }
      }
    },
  };
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError('--mqtt: must be a port number 0-65535');
  return Number(text);
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
      nucleus: { type: 'string' },
      deployment: { type: 'string' },
      'cert-dir': { type: 'string' },
      'issue-cert': { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      control: { type: 'string' },
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
  const control = parseControl(values.control);
  const nucleus = values.nucleus ?? 'classic';
  if (!isNucleusFlavor(nucleus)) throw new UsageError(`--nucleus: must be one of ${NUCLEUS_FLAVORS.join(', ')}, not '${nucleus}'`);
  if (values.token !== undefined && !/^[A-Za-z0-9]{1,64}$/.test(values.token))
    throw new UsageError('--token: must be 1-64 letters or digits');
  if (nucleus === 'lite' && values.token !== undefined && values.token.length !== 16)
    throw new UsageError(`--token: nucleus lite SVCUIDs are 16 characters, '${values.token}' has ${values.token.length}`);
  const recipe = values.recipe ?? (existsSync('recipe.yaml') ? resolve('recipe.yaml') : undefined);
  const overrides = values.config ? readOverrides(values.config) : undefined;
  const deployment = values.deployment !== undefined ? readJsonFile('--deployment', values.deployment) : undefined;
  const mqttPort = values.mqtt !== undefined ? parsePort(values.mqtt) : undefined;
  if (mqttPort !== undefined && nucleus === 'lite') {
    throw new UsageError(
      '--mqtt: nucleus lite runs generic components only; the client-device broker, auth and bridge need --nucleus classic',
    );
  }
  if (mqttPort === undefined && (values['cert-dir'] !== undefined || values['issue-cert'] !== undefined)) {
    throw new UsageError('--cert-dir and --issue-cert need --mqtt PORT');
  }
  // stdout carries the ready line and command answers; logs go to stderr.
  const logger = createLogger({ level: level as LevelWithSilent, fd: 2, name: 'defender-edge-emulator' });

  let emulator: GreengrassEmulator;
  try {
    emulator = new GreengrassEmulator({
      socketPath,
      nucleus,
      recipe,
      overrides,
      deployment,
      thingName: values.thing,
      recordFile: values.record,
      offline: values.offline,
      token: values.token,
      mqttPort,
      certDir: values['cert-dir'] !== undefined ? resolve(values['cert-dir']) : undefined,
      logger,
    });
  } catch (err) {
    if (err instanceof RecipeError) throw new UsageError(`--recipe: ${err.message}`);
    if (err instanceof EmulatorStartError) {
      process.stderr.write(`defender-edge emulator: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const deviceCerts: Record<string, Pick<DeviceCredentials, 'certPath' | 'keyPath'>> = {};
  try {
    await emulator.start();
    for (const thing of values['issue-cert'] ?? []) {
      const { certPath, keyPath } = emulator.issueDeviceCertificate(thing);
      deviceCerts[thing] = { certPath, keyPath };
    }
  } catch (err) {
    if (!(err instanceof EmulatorStartError) && !(err instanceof CertificateError)) throw err;
    await emulator.stop();
    process.stderr.write(`defender-edge emulator: ${err instanceof CertificateError ? '--issue-cert: ' : ''}${err.message}\n`);
    return 1;
  }
  const print = (obj: unknown): void => {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  };
  let source: { input: Readable; close: () => void } | null = null;
  try {
    if (control.kind === 'stdin') source = { input: process.stdin, close: () => undefined };
    if (control.kind === 'fifo') source = await openFifo(control.path);
  } catch (err) {
    await emulator.stop();
    throw err;
  }

  return await new Promise<number>((done) => {
    const lines = source ? createInterface({ input: source.input, crlfDelay: Infinity }) : null;
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ why }, 'emulator stopping');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onTerm);
      lines?.close();
      source?.close();
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
    lines?.on('line', (line) => {
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
    // Only stdin ends: a named pipe opened read-write never does, and `none` has no input.
    if (control.kind === 'stdin') {
      lines?.on('close', () => {
        void chain.then(() => stop('stdin closed'));
      });
    }
    // Last: whoever reads this line may signal us at once, so every handler must already be in place.
    const mqtt = emulator.mqttUrl;
    print({
      ready: true,
      nucleus: emulator.nucleus,
      socket: socketPath,
      thingName: emulator.thingName,
      components: emulator.tokens(),
      ...(mqtt ? { mqtt, ca: emulator.caPath, deviceCerts } : {}),
    });
  });
}
