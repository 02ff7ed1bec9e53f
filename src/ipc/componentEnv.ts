// The environment the nucleus gives a component process (docs/greengrass-ipc.md#the-components-environment).
import { isAbsolute, resolve } from 'node:path';

export interface ComponentEnvironment {
  /** AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT, made absolute against the working directory. */
  socketPath: string;
  /** SVCUID: the component's IPC token. */
  authToken: string;
  /** AWS_IOT_THING_NAME, when set. */
  thingName: string | undefined;
}

export class ComponentEnvironmentError extends Error {
  override name = 'ComponentEnvironmentError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`not running as a Greengrass component: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/**
 * Read the component environment; throws ComponentEnvironmentError listing every missing variable.
 * The socket path may be relative (`../../ipc.socket` when the absolute one is ≥ 108 bytes).
 */
export function readComponentEnvironment(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ComponentEnvironment {
  const problems: string[] = [];
  const socket = env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT ?? env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH;
  if (!socket) problems.push('AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: required');
  const token = env.SVCUID;
  if (!token) problems.push('SVCUID: required');
  const thing = env.AWS_IOT_THING_NAME;
  if (thing !== undefined && (thing.length === 0 || Buffer.byteLength(thing) > 128)) {
    problems.push('AWS_IOT_THING_NAME: must be 1-128 bytes');
  }
  if (problems.length > 0) throw new ComponentEnvironmentError(problems);
  return {
    // Keep a relative path relative: unix socket paths are limited to 108 bytes (sun_path).
    socketPath: isAbsolute(socket!) || resolve(cwd, socket!).length < 108 ? resolve(cwd, socket!) : socket!,
    authToken: token!,
    thingName: thing || undefined,
  };
}
