// Parsing the operator's requests (control socket lines, cloud command payloads): every refusal names the
// field and the value.
import { describe, expect, it } from 'vitest';
import { MAX_COMMAND_BYTES, parseCloudCommand, parseSocketRequest } from '../../src/control/protocol.ts';

describe('control socket requests', () => {
  it('takes each command with its fields and the claimed identity', () => {
    expect(parseSocketRequest('{"id":1,"command":"status"}')).toEqual({ ok: true, id: 1, request: { command: 'status' }, by: {} });
    expect(
      parseSocketRequest('{"id":"a","command":"actions.lift","actionId":"3f2a9c1e","quietForSeconds":0,"by":{"user":"alice","uid":0}}'),
    ).toEqual({
      ok: true,
      id: 'a',
      request: { command: 'actions.lift', actionId: '3f2a9c1e', quietForSeconds: 0 },
      by: { user: 'alice', uid: 0 },
    });
    expect(parseSocketRequest('{"command":"violations.list","limit":5}')).toMatchObject({ ok: true, request: { limit: 5 } });
    expect(parseSocketRequest('{"command":"pause","seconds":600}')).toMatchObject({
      ok: true,
      request: { command: 'pause', seconds: 600 },
    });
  });

  it('refuses what it cannot take with path: message', () => {
    const error = (line: string) => {
      const r = parseSocketRequest(line);
      return r.ok ? 'accepted' : r.error;
    };
    expect(error('{')).toMatch(/^\(request\): not JSON: /);
    expect(error('[1]')).toBe('(request): must be a JSON object, got [1]');
    expect(error('{"command":"rm"}')).toMatch(/^command: must be one of status, actions.list, .* got "rm"$/);
    expect(error('{"command":"actions.lift"}')).toBe('actionId: is required');
    expect(error('{"command":"actions.lift","actionId":"a b"}')).toBe(
      `actionId: must be an id or a prefix of one (letters, digits, '-'), got "a b"`,
    );
    expect(error('{"command":"actions.lift","actionId":"abcd","quietForSeconds":2592001}')).toBe(
      'quietForSeconds: must be an integer from 0 to 2592000, got 2592001',
    );
    expect(error('{"command":"pause"}')).toBe('seconds: is required');
    expect(error('{"command":"pause","seconds":1.5}')).toBe('seconds: must be an integer from 1 to 2592000, got 1.5');
    expect(error('{"command":"status","seconds":1}')).toBe('seconds: unknown field (allowed: id, command, by)');
    expect(error('{"command":"status","by":{"user":"a\\nb"}}')).toMatch(/^by\.user: must be a user name/);
    expect(error('{"command":"status","by":{"root":true}}')).toBe('by.root: unknown field (allowed: user, uid)');
    expect(error('{"id":{},"command":"status"}')).toBe('id: must be a string or a number, got {}');
    // The id is echoed even when the rest is refused, so a client can match the answer.
    expect(parseSocketRequest('{"id":7,"command":"x"}')).toMatchObject({ ok: false, id: 7 });
  });
});

describe('cloud commands', () => {
  const parse = (doc: unknown) => parseCloudCommand(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));

  it('maps lift, pause, resume and status onto the same requests', () => {
    expect(parse({ commandId: 'c-1', command: 'lift', actionId: 'abcd1234', quietForSeconds: 60, requestedBy: 'ops@example.com' })).toEqual(
      {
        ok: true,
        commandId: 'c-1',
        command: 'lift',
        request: { command: 'actions.lift', actionId: 'abcd1234', quietForSeconds: 60 },
        requestedBy: 'ops@example.com',
      },
    );
    expect(parse({ command: 'pause', seconds: 30 })).toEqual({ ok: true, command: 'pause', request: { command: 'pause', seconds: 30 } });
    expect(parse({ command: 'resume' })).toMatchObject({ ok: true, request: { command: 'resume' } });
    expect(parse({ command: 'status' })).toMatchObject({ ok: true, request: { command: 'status' } });
  });

  it('refuses malformed and unknown commands with path: message, echoing what it can', () => {
    expect(parse('nope')).toMatchObject({ ok: false, error: expect.stringMatching(/^\(payload\): not JSON/) });
    expect(parse({ commandId: 'c-2', command: 'reboot' })).toEqual({
      ok: false,
      commandId: 'c-2',
      command: 'reboot',
      error: 'command: must be one of lift, pause, resume, status, got "reboot"',
    });
    expect(parse({ commandId: 'c-3', command: 'lift' })).toMatchObject({ ok: false, commandId: 'c-3', error: 'actionId: is required' });
    expect(parse({ command: 'status', actionId: 'abcd' })).toMatchObject({
      error: 'actionId: unknown field (allowed: commandId, command, requestedBy)',
    });
    expect(parse({ commandId: 'has space', command: 'status' })).toMatchObject({
      ok: false,
      error: 'commandId: must be 1-64 letters, digits or _ . : -, got "has space"',
    });
    expect(parse({ command: 'status', requestedBy: '' })).toMatchObject({
      error: 'requestedBy: must be 1-128 printable characters, got ""',
    });
    expect(parseCloudCommand(Buffer.alloc(MAX_COMMAND_BYTES + 1, 0x20))).toMatchObject({
      ok: false,
      error: `(payload): ${MAX_COMMAND_BYTES + 1} bytes, more than ${MAX_COMMAND_BYTES}`,
    });
  });
});
