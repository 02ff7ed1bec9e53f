// The operator's requests, as they arrive on the control socket (JSON lines) and on the IoT Core commands
// topic: parsed and validated here, pure, with `path: message` errors that name the field and the value.
// Both channels map to one ControlRequest, carried out by ControlService.

export type ControlRequest =
  | { command: 'status' }
  | { command: 'actions.list' }
  | { command: 'actions.lift'; actionId: string; quietForSeconds?: number }
  | { command: 'violations.list'; limit?: number }
  | { command: 'violations.get'; violationId: string }
  | { command: 'pause'; seconds: number }
  | { command: 'resume' }
  | { command: 'reconcile' };

export type ControlCommand = ControlRequest['command'];

/** One request line on the control socket is at most this long (a longer one is refused, and the connection closed). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A cloud command payload is at most this long. */
export const MAX_COMMAND_BYTES = 16 * 1024;
/** Longest quiet window or pause: 30 days. */
export const MAX_WINDOW_SECONDS = 2_592_000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

export class RequestError extends Error {
  override name = 'RequestError';
}

function int(o: Obj, key: string, min: number, max: number, path = key): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new RequestError(`${path}: must be an integer from ${min} to ${max}, got ${show(v)}`);
  return v;
}

function id(o: Obj, key: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) throw new RequestError(`${key}: is required`);
    return undefined;
  }
  // Action ids are UUIDs, violation ids hex; a prefix of either is accepted (at least 4 characters).
  if (typeof v !== 'string' || !/^[A-Za-z0-9-]{1,128}$/.test(v))
    throw new RequestError(`${key}: must be an id or a prefix of one (letters, digits, '-'), got ${show(v)}`);
  return v;
}

function onlyFields(o: Obj, allowed: readonly string[], path = ''): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new RequestError(`${path}${k}: unknown field (allowed: ${allowed.join(', ')})`);
  }
}

/** The request fields each command takes (besides the envelope's id and by). */
const SOCKET_FIELDS: Record<ControlCommand, readonly string[]> = {
  status: [],
  'actions.list': [],
  'actions.lift': ['actionId', 'quietForSeconds'],
  'violations.list': ['limit'],
  'violations.get': ['violationId'],
  pause: ['seconds'],
  resume: [],
  reconcile: [],
};

export const SOCKET_COMMANDS = Object.keys(SOCKET_FIELDS) as ControlCommand[];

function requestFrom(command: ControlCommand, o: Obj): ControlRequest {
  switch (command) {
    case 'actions.lift': {
      const quiet = int(o, 'quietForSeconds', 0, MAX_WINDOW_SECONDS);
      return { command, actionId: id(o, 'actionId', true)!, ...(quiet === undefined ? {} : { quietForSeconds: quiet }) };
    }
    case 'violations.list': {
      const limit = int(o, 'limit', 1, 1000);
      return limit === undefined ? { command } : { command, limit };
    }
    case 'violations.get':
      return { command, violationId: id(o, 'violationId', true)! };
    case 'pause': {
      const seconds = int(o, 'seconds', 1, MAX_WINDOW_SECONDS);
      if (seconds === undefined) throw new RequestError('seconds: is required');
      return { command, seconds };
    }
    default:
      return { command } as ControlRequest;
  }
}

/** Who the client says it is: the socket admits only its owner (root), the name is the client's word. */
export interface ClaimedIdentity {
  user?: string;
  uid?: number;
}

export type ParsedSocketRequest =
  | { ok: true; id: string | number | undefined; request: ControlRequest; by: ClaimedIdentity }
  | { ok: false; id: string | number | undefined; error: string };

/** One control-socket line: `{"id", "command", …fields, "by": {"user", "uid"}}`. */
export function parseSocketRequest(line: string): ParsedSocketRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, id: undefined, error: `(request): not JSON: ${(err as Error).message}` };
  }
  if (!isObj(value)) return { ok: false, id: undefined, error: `(request): must be a JSON object, got ${show(value)}` };
  const rid = typeof value.id === 'string' || typeof value.id === 'number' ? value.id : undefined;
  try {
    if (value.id !== undefined && rid === undefined) throw new RequestError(`id: must be a string or a number, got ${show(value.id)}`);
    const command = value.command;
    if (typeof command !== 'string' || !(command in SOCKET_FIELDS))
      throw new RequestError(`command: must be one of ${SOCKET_COMMANDS.join(', ')}, got ${show(command)}`);
    const c = command as ControlCommand;
    onlyFields(value, ['id', 'command', 'by', ...SOCKET_FIELDS[c]]);
    const by: ClaimedIdentity = {};
    if (value.by !== undefined) {
      if (!isObj(value.by)) throw new RequestError(`by: must be an object, got ${show(value.by)}`);
      onlyFields(value.by, ['user', 'uid'], 'by.');
      const user = value.by.user;
      if (user !== undefined) {
        if (typeof user !== 'string' || !/^[\p{L}\p{N}._@+-]{1,64}$/u.test(user))
          throw new RequestError(`by.user: must be a user name (1-64 letters, digits, . _ @ + -), got ${show(user)}`);
        by.user = user;
      }
      const uid = int(value.by, 'uid', 0, 4_294_967_295, 'by.uid');
      if (uid !== undefined) by.uid = uid;
    }
    return { ok: true, id: rid, request: requestFrom(c, value), by };
  } catch (err) {
    if (err instanceof RequestError) return { ok: false, id: rid, error: err.message };
    throw err;
  }
}

// ---- the IoT Core commands topic ----

/** Where the cloud sends commands; answers go to `<topic>/accepted` and `<topic>/rejected`. */
export const COMMANDS_TOPIC = 'defender-edge/{thingName}/commands';

export function commandsTopicFor(thingName: string): string {
  return COMMANDS_TOPIC.replaceAll('{thingName}', thingName);
}

export const CLOUD_COMMANDS = ['lift', 'pause', 'resume', 'status'] as const;
export type CloudCommandName = (typeof CLOUD_COMMANDS)[number];

const CLOUD_FIELDS: Record<CloudCommandName, readonly string[]> = {
  lift: ['actionId', 'quietForSeconds'],
  pause: ['seconds'],
  resume: [],
  status: [],
};

export type ParsedCloudCommand =
  | { ok: true; commandId?: string; command: CloudCommandName; request: ControlRequest; requestedBy?: string }
  | { ok: false; commandId?: string; command?: string; error: string };

/**
 * A command published to `defender-edge/<thing>/commands`:
 * `{"commandId": "c-1", "command": "lift", "actionId": "3f2a9c1e", "quietForSeconds": 3600, "requestedBy": "alice"}`.
 */
export function parseCloudCommand(payload: Buffer): ParsedCloudCommand {
  if (payload.length > MAX_COMMAND_BYTES) return { ok: false, error: `(payload): ${payload.length} bytes, more than ${MAX_COMMAND_BYTES}` };
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, error: `(payload): not JSON: ${(err as Error).message}` };
  }
  if (!isObj(value)) return { ok: false, error: `(payload): must be a JSON object, got ${show(value)}` };
  // Echo back what can be echoed, so the requester can match the answer even to a refused command.
  const commandId = typeof value.commandId === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(value.commandId) ? value.commandId : undefined;
  const command = typeof value.command === 'string' && value.command.length <= 32 ? value.command : undefined;
  const fail = (error: string): ParsedCloudCommand => ({
    ok: false,
    error,
    ...(commandId === undefined ? {} : { commandId }),
    ...(command === undefined ? {} : { command }),
  });
  try {
    if (value.commandId !== undefined && commandId === undefined)
      throw new RequestError(`commandId: must be 1-64 letters, digits or _ . : -, got ${show(value.commandId)}`);
    if (command === undefined || !(CLOUD_COMMANDS as readonly string[]).includes(command))
      throw new RequestError(`command: must be one of ${CLOUD_COMMANDS.join(', ')}, got ${show(value.command)}`);
    const c = command as CloudCommandName;
    onlyFields(value, ['commandId', 'command', 'requestedBy', ...CLOUD_FIELDS[c]]);
    let requestedBy: string | undefined;
    if (value.requestedBy !== undefined) {
      if (
        typeof value.requestedBy !== 'string' ||
        value.requestedBy.length === 0 ||
        value.requestedBy.length > 128 ||
        /\p{Cc}/u.test(value.requestedBy)
      )
        throw new RequestError(`requestedBy: must be 1-128 printable characters, got ${show(value.requestedBy)}`);
      requestedBy = value.requestedBy;
    }
    const request = requestFrom(c === 'lift' ? 'actions.lift' : c, value);
    return {
      ok: true,
      command: c,
      request,
      ...(commandId === undefined ? {} : { commandId }),
      ...(requestedBy === undefined ? {} : { requestedBy }),
    };
  } catch (err) {
    if (err instanceof RequestError) return fail(err.message);
    throw err;
  }
}
