import { describe, expect, it } from 'vitest';
import { parseControlLine } from '../../../src/ipc/emulator/controlChannel.ts';

describe('parseControlLine', () => {
  it('parses every command', () => {
    expect(parseControlLine('offline')).toEqual({ ok: true, command: { kind: 'offline' } });
    expect(parseControlLine('  online  ')).toEqual({ ok: true, command: { kind: 'online' } });
    expect(parseControlLine('status')).toEqual({ ok: true, command: { kind: 'status' } });
    expect(parseControlLine('config {"a": {"b": 1}}')).toEqual({ ok: true, command: { kind: 'config', patch: { a: { b: 1 } } } });
    expect(parseControlLine('component com.x.Y {"svc": {}}')).toEqual({
      ok: true,
      command: { kind: 'component', name: 'com.x.Y', accessControl: { svc: {} } },
    });
    expect(parseControlLine('cloud-publish a/b {"k": 1}')).toEqual({
      ok: true,
      command: { kind: 'cloud-publish', topic: 'a/b', payload: '{"k": 1}' },
    });
    expect(parseControlLine('deploy {"components": {}}')).toEqual({ ok: true, command: { kind: 'deploy', document: { components: {} } } });
    expect(parseControlLine('issue-cert Dev1')).toEqual({ ok: true, command: { kind: 'issue-cert', thingName: 'Dev1', dir: undefined } });
    expect(parseControlLine('issue-cert Dev1 /tmp/certs')).toEqual({
      ok: true,
      command: { kind: 'issue-cert', thingName: 'Dev1', dir: '/tmp/certs' },
    });
    expect(parseControlLine('local-publish a/b [1,2]')).toEqual({
      ok: true,
      command: { kind: 'local-publish', topic: 'a/b', message: [1, 2] },
    });
  });

  it('ignores blank lines', () => {
    expect(parseControlLine('   ')).toBeNull();
  });

  it('names the problem of bad commands', () => {
    expect(parseControlLine('offline now')).toEqual({ ok: false, error: 'offline: takes no arguments' });
    expect(parseControlLine('config')).toEqual({ ok: false, error: 'config: JSON required' });
    expect(parseControlLine('config "x"')).toEqual({ ok: false, error: 'config: must be a JSON object' });
    expect(parseControlLine('component bad/name {}')).toMatchObject({ ok: false, error: expect.stringMatching(/^component: name/) });
    expect(parseControlLine('component ok.Name {oops')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^component.accessControl: invalid JSON/),
    });
    expect(parseControlLine('cloud-publish')).toEqual({ ok: false, error: 'cloud-publish: topic required' });
    expect(parseControlLine('deploy {"components":')).toMatchObject({ ok: false, error: expect.stringMatching(/^deploy: invalid JSON/) });
    expect(parseControlLine('issue-cert')).toEqual({ ok: false, error: 'issue-cert: thing name required' });
    expect(parseControlLine('reboot')).toEqual({ ok: false, error: "unknown command 'reboot' (try: help)" });
  });
});
