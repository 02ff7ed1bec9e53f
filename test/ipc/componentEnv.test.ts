import { describe, expect, it } from 'vitest';
import { ComponentEnvironmentError, readComponentEnvironment } from '../../src/ipc/componentEnv.ts';

describe('readComponentEnvironment', () => {
  it('reads socket, token and thing name', () => {
    const env = { AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/gg/ipc.socket', SVCUID: 'ABC', AWS_IOT_THING_NAME: 'gw1' };
    expect(readComponentEnvironment(env, '/work')).toEqual({ socketPath: '/gg/ipc.socket', authToken: 'ABC', thingName: 'gw1' });
  });
  it('resolves a short relative socket path, keeps a long one relative', () => {
    const env = { AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '../../ipc.socket', SVCUID: 'A' };
    expect(readComponentEnvironment(env, '/gg/work/comp').socketPath).toBe('/gg/ipc.socket');
    const deep = `/${'d'.repeat(120)}/work/comp`;
    expect(readComponentEnvironment(env, deep).socketPath).toBe('../../ipc.socket');
  });
  it('lists every missing variable by name', () => {
    try {
      readComponentEnvironment({ AWS_IOT_THING_NAME: `${'x'.repeat(129)}` }, '/');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ComponentEnvironmentError);
      expect((err as ComponentEnvironmentError).problems).toEqual([
        'AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: required',
        'SVCUID: required',
        'AWS_IOT_THING_NAME: must be 1-128 bytes',
      ]);
    }
  });
});
