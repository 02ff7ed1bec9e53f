// The emulator CLI's stdin control channel: one command per line, one JSON line answered per command.
// Parsing is pure; running a command needs the emulator.
import type { GreengrassEmulator } from './emulator.ts';

export type ControlCommand =
  | { kind: 'offline' }
  | { kind: 'online' }
  | { kind: 'status' }
  | { kind: 'help' }
  | { kind: 'config'; patch: unknown }
  | { kind: 'deploy'; document: unknown }
  | { kind: 'issue-cert'; thingName: string; dir: string | undefined }
  | { kind: 'component'; name: string; accessControl: unknown }
  | { kind: 'cloud-publish'; topic: string; payload: string }
  | { kind: 'local-publish'; topic: string; message: unknown };

export const CONTROL_HELP = [
  'offline | online                     simulated IoT Core connection',
  'status                               online, clients, spool depth, records written; with --mqtt: per-client MQTT stats and bridge counters',
  'config <json merge>                  merge into the component configuration (a configuration-only deployment: validators first)',
  'deploy <deployment json>             apply a deployment document: {"components": {"<name>": {"componentVersion": "1.0.0",',
  '                                     "configurationUpdate": {"merge": "<json string>", "reset": ["/pointer"]}}}}, for the',
  '                                     component and aws.greengrass.clientdevices.Auth / .mqtt.Bridge; all or nothing',
  'issue-cert <thingName> [dir]         issue a device certificate+key for a thing (client id = thing name); prints the paths',
  'component <name> <accessControl json> add an identity; prints its token',
  'cloud-publish <topic> <json>         cloud → device message to SubscribeToIoTCore subscribers',
  'local-publish <topic> <json>         inject a local pub/sub jsonMessage',
].join('\n');

export type ParseResult = { ok: true; command: ControlCommand } | { ok: false; error: string };

/** Split off the first whitespace-delimited word. */
function head(text: string): [string, string] {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  return m ? [m[1]!, m[2]!] : ['', ''];
}

function parseJson(field: string, text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.length === 0) return { ok: false, error: `${field}: JSON required` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `${field}: invalid JSON: ${(err as Error).message}` };
  }
}

export function parseControlLine(line: string): ParseResult | null {
  const [word, rest] = head(line);
  if (word === '') return null; // blank lines are ignored
  switch (word) {
    case 'offline':
    case 'online':
    case 'status':
    case 'help':
      return rest ? { ok: false, error: `${word}: takes no arguments` } : { ok: true, command: { kind: word } };
    case 'config': {
      const j = parseJson('config', rest);
      if (!j.ok) return j;
      if (typeof j.value !== 'object' || j.value === null || Array.isArray(j.value))
        return { ok: false, error: 'config: must be a JSON object' };
      return { ok: true, command: { kind: 'config', patch: j.value } };
    }
    case 'deploy': {
      const j = parseJson('deploy', rest);
      if (!j.ok) return j;
      return { ok: true, command: { kind: 'deploy', document: j.value } };
    }
    case 'issue-cert': {
      const [thingName, dir] = head(rest);
      if (!thingName) return { ok: false, error: 'issue-cert: thing name required' };
      if (/\s/.test(dir)) return { ok: false, error: 'issue-cert: takes a thing name and at most one directory' };
      return { ok: true, command: { kind: 'issue-cert', thingName, dir: dir === '' ? undefined : dir } };
    }
    case 'component': {
      const [name, json] = head(rest);
      if (!/^[a-zA-Z0-9-_.]+$/.test(name)) return { ok: false, error: 'component: name must match ^[a-zA-Z0-9-_.]+$' };
      const j = parseJson('component.accessControl', json);
      if (!j.ok) return j;
      return { ok: true, command: { kind: 'component', name, accessControl: j.value } };
    }
    case 'cloud-publish':
    case 'local-publish': {
      const [topic, json] = head(rest);
      if (!topic) return { ok: false, error: `${word}: topic required` };
      const j = parseJson(`${word}.payload`, json);
      if (!j.ok) return j;
      return word === 'cloud-publish'
        ? { ok: true, command: { kind: 'cloud-publish', topic, payload: json.trim() } }
        : { ok: true, command: { kind: 'local-publish', topic, message: j.value } };
    }
    default:
      return { ok: false, error: `unknown command '${word}' (try: help)` };
  }
}

/** Run one command; the returned object is printed as one JSON line. */
export async function runControlCommand(emulator: GreengrassEmulator, command: ControlCommand): Promise<Record<string, unknown>> {
  switch (command.kind) {
    case 'offline':
    case 'online':
      emulator.setOnline(command.kind === 'online');
      return { ok: true, online: command.kind === 'online' };
    case 'status':
      return { ok: true, ...emulator.status() };
    case 'help':
      return { ok: true, help: CONTROL_HELP };
    case 'config': {
      const r = await emulator.changeConfig(command.patch);
      return r.applied ? { ok: true, applied: true, changed: r.changed } : { ok: false, applied: false, error: `config: ${r.reason}` };
    }
    case 'deploy': {
      const r = await emulator.deploy(command.document);
      return r.ok ? { ...r } : { ...r, error: r.errors.join('; ') };
    }
    case 'issue-cert':
      return { ok: true, ...emulator.issueDeviceCertificate(command.thingName, command.dir) };
    case 'component':
      return { ok: true, component: command.name, token: emulator.addComponent(command.name, command.accessControl) };
    case 'cloud-publish':
      return { ok: true, delivered: emulator.cloudPublish(command.topic, command.payload) };
    case 'local-publish':
      return { ok: true, delivered: emulator.publishLocal(command.topic, command.message) };
  }
}
