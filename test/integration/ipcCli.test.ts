// `defender-edge emulator` as users run it: ready line, control commands, clean stop.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import { CLI, CliTestResources, spawnEmulator } from '../support/ipc.ts';

const recipe = fileURLToPath(new URL('../fixtures/recipe.test-component.yaml', import.meta.url));
const res = new CliTestResources();
const procs = res.procs;
const clients = res.clients;

afterEach(async () => {
  await res.teardown();
});

const setup = (): string => res.dir();

describe('defender-edge emulator CLI', () => {
  it('prints the ready line, runs control commands, stops on EOF and removes the socket', async () => {
    const dir = setup();
    const socket = join(dir, 'ipc.sock');
    writeFileSync(join(dir, 'overrides.json'), JSON.stringify({ reporting: { intervalSeconds: 600 } }));
    const emu = spawnEmulator([
      '--socket',
      socket,
      '--recipe',
      recipe,
      '--config',
      join(dir, 'overrides.json'),
      '--thing',
      'gw9',
      '--record',
      join(dir, 'rec.jsonl'),
      '--offline',
    ]);
    procs.push(emu);
    const ready = await emu.ready;
    expect(ready).toEqual({
      ready: true,
      nucleus: 'classic',
      socket,
      thingName: 'gw9',
      components: { 'com.defender-edge.DefenderEdge': expect.stringMatching(/^[A-Z0-9]{16}$/) },
    });

    const ipc = new GreengrassIpcClient({ socketPath: socket, authToken: ready.components['com.defender-edge.DefenderEdge'] });
    clients.push(ipc);
    ipc.start();
    await ipc.whenConnected(5000);
    expect(await ipc.getConfiguration(['reporting'])).toEqual({ intervalSeconds: 600, format: 'json' });
    await ipc.publishToIoTCore('defender-edge/gw9/heartbeat', 'spooled', 1);
    expect(await emu.send('status')).toMatchObject({ ok: true, online: false, clients: 1, spoolDepth: 1, recordsWritten: 0 });
    expect(await emu.send('online')).toEqual({ ok: true, online: true });
    expect(await emu.send('status')).toMatchObject({ online: true, spoolDepth: 0, recordsWritten: 1 });
    expect(await emu.send('offline')).toEqual({ ok: true, online: false });
    expect(await emu.send('config {"logLevel":"debug"}')).toEqual({ ok: true, applied: true, changed: [['logLevel']] });
    expect(await ipc.getConfiguration(['logLevel'])).toEqual({ logLevel: 'debug' });
    const comp = await emu.send(
      'component com.example.Sensor {"aws.greengrass.ipc.pubsub":{"s:1":{"operations":["*"],"resources":["downstream/*"]}}}',
    );
    expect(comp).toEqual({ ok: true, component: 'com.example.Sensor', token: expect.stringMatching(/^[A-Z0-9]{16}$/) });
    const sensor = new GreengrassIpcClient({ socketPath: socket, authToken: comp.token as string });
    clients.push(sensor);
    sensor.start();
    await sensor.whenConnected(5000);
    await sensor.publishToTopic('downstream/reports', { ok: 1 });
    await expect(sensor.publishToTopic('defender-edge/x', {})).rejects.toMatchObject({ errorCode: 'UnauthorizedError' });
    const logLevelWarn = { componentVersion: '0.1.0', configurationUpdate: { merge: '{"logLevel":"warn"}' } };
    const deployed = await emu.send(`deploy ${JSON.stringify({ components: { 'com.defender-edge.DefenderEdge': logLevelWarn } })}`);
    expect(deployed).toMatchObject({
      ok: true,
      components: { 'com.defender-edge.DefenderEdge': { version: '0.1.0', changed: [['logLevel']] } },
    });
    const refused = await emu.send(
      'deploy {"components": {"com.defender-edge.DefenderEdge": {"componentVersion": "0.1.0", "configurationUpdate": {"merge": "{"}}}}',
    );
    expect(refused).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^components\.com\.defender-edge\.DefenderEdge\.configurationUpdate\.merge: invalid JSON/),
    });
    expect(await ipc.getConfiguration(['logLevel'])).toEqual({ logLevel: 'warn' });
    expect(await emu.send('issue-cert Dev1')).toEqual({
      ok: false,
      error: 'issue-cert: no client-device broker: start the emulator with an MQTT port',
    });
    expect(await emu.send('bogus')).toEqual({ ok: false, error: "unknown command 'bogus' (try: help)" });
    expect(await emu.send('config [1]')).toEqual({ ok: false, error: 'config: must be a JSON object' });
    expect(await emu.send('cloud-publish a/b {bad')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^cloud-publish.payload: invalid JSON/),
    });

    emu.child.stdin!.end();
    expect(await emu.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(socket)).toBe(false);
    expect(readFileSync(join(dir, 'rec.jsonl'), 'utf8')).toContain('"payload":"spooled"');
  });

  it('stops cleanly on SIGTERM', async () => {
    const dir = setup();
    const socket = join(dir, 'ipc.sock');
    const emu = spawnEmulator(['--socket', socket]);
    procs.push(emu);
    await emu.ready;
    expect(existsSync(socket)).toBe(true);
    emu.child.kill('SIGTERM');
    expect(await emu.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(socket)).toBe(false);
  });

  it('--control none: the end of stdin does not stop it (a backgrounded or scripted emulator); SIGTERM does', async () => {
    const dir = setup();
    const socket = join(dir, 'ipc.sock');
    const emu = spawnEmulator(['--socket', socket, '--recipe', recipe, '--token', 'CONTROLNONE00001', '--control', 'none']);
    procs.push(emu);
    await emu.ready;
    emu.child.stdin!.end();
    // Still serving after its stdin ended: a component connects (with `--control stdin` it would be gone).
    const ipc = new GreengrassIpcClient({ socketPath: socket, authToken: 'CONTROLNONE00001' });
    clients.push(ipc);
    ipc.start();
    await ipc.whenConnected(5000);
    expect(emu.child.exitCode).toBeNull();
    emu.child.kill('SIGTERM');
    expect(await emu.exited).toEqual({ code: 0, signal: null });
  });

  it('--control fifo:PATH: commands from writers one after another, answers on stdout; the pipe is removed at exit', async () => {
    const dir = setup();
    const fifo = join(dir, 'control');
    const emu = spawnEmulator(['--socket', join(dir, 'ipc.sock'), '--control', `fifo:${fifo}`]);
    procs.push(emu);
    await emu.ready;
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(statSync(fifo).mode & 0o777).toBe(0o600);
    for (const n of [1, 2]) {
      const answer = emu.nextAnswer();
      // A writer that opens, writes one command and closes — as `echo status > PATH` does.
      writeFileSync(fifo, 'status\n');
      expect(await answer, `writer ${n}`).toMatchObject({ ok: true, clients: 0 });
    }
    const bad = emu.nextAnswer();
    writeFileSync(fifo, 'frobnicate\n');
    expect(await bad).toMatchObject({ ok: false });
    emu.child.kill('SIGTERM');
    expect(await emu.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(fifo)).toBe(false);
  });

  it('uses ./recipe.yaml when present, else the embedded identity', async () => {
    const dir = setup();
    writeFileSync(join(dir, 'recipe.yaml'), 'ComponentName: com.example.FromCwd\n');
    const emu = spawnEmulator(['--socket', join(dir, 'a.sock')], dir);
    procs.push(emu);
    expect(Object.keys((await emu.ready).components)).toEqual(['com.example.FromCwd']);
  });

  it('exits 2 with a field-named message on bad arguments', async () => {
    const dir = setup();
    const run = promisify(execFile);
    const fail = async (args: string[]): Promise<string> => {
      try {
        await run(process.execPath, [CLI, 'emulator', ...args]);
      } catch (err) {
        const e = err as { code: number; stderr: string };
        expect(e.code).toBe(2);
        return e.stderr;
      }
      throw new Error('expected exit 2');
    };
    expect(await fail(['--socket', `/tmp/${'x'.repeat(120)}`])).toMatch(/--socket: .* longer than 107 bytes/);
    expect(await fail(['--socket', join(dir, 's'), '--recipe', join(dir, 'missing.yaml')])).toMatch(/--recipe: .*missing.yaml/);
    writeFileSync(join(dir, 'o.json'), '[]');
    expect(await fail(['--socket', join(dir, 's'), '--config', join(dir, 'o.json')])).toMatch(/--config: .*must be a JSON object/);
    expect(await fail(['--nope'])).toMatch(/Unknown option/);
    expect(await fail(['--nucleus', 'java'])).toMatch(/--nucleus: must be one of classic, lite, not 'java'/);
    expect(await fail(['--nucleus', 'lite', '--mqtt', '0'])).toMatch(/--mqtt: nucleus lite runs generic components only/);
    expect(await fail(['--nucleus', 'lite', '--token', 'DEVTOKEN0000001'])).toMatch(/--token: nucleus lite SVCUIDs are 16 characters/);
    expect(await fail(['--issue-cert', 'Dev1'])).toMatch(/--cert-dir and --issue-cert need --mqtt PORT/);
    expect(await fail(['--control', 'tty'])).toMatch(/--control: must be stdin, none or fifo:PATH, got 'tty'/);
    writeFileSync(join(dir, 'plain'), '');
    expect(await fail(['--socket', join(dir, 's'), '--control', `fifo:${join(dir, 'plain')}`])).toMatch(
      /--control: .*plain exists and is not a named pipe/,
    );
    writeFileSync(join(dir, 'd.json'), '{"components":');
    expect(await fail(['--socket', join(dir, 's'), '--deployment', join(dir, 'd.json')])).toMatch(/--deployment: .*d.json: /);
  });

  it('a deployment the emulator refuses at start exits 1 naming the field, and leaves no socket', async () => {
    const dir = setup();
    writeFileSync(
      join(dir, 'd.json'),
      JSON.stringify({
        components: {
          'aws.greengrass.clientdevices.Auth': {
            componentVersion: '2.5.5',
            configurationUpdate: {
              merge: JSON.stringify({ deviceGroups: { definitions: { g: { selectionRule: 'thingName: x', policyName: 'none' } } } }),
            },
          },
        },
      }),
    );
    const socket = join(dir, 's.sock');
    const run = promisify(execFile);
    const err = (await run(process.execPath, [
      CLI,
      'emulator',
      '--socket',
      socket,
      '--mqtt',
      '0',
      '--deployment',
      join(dir, 'd.json'),
    ]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(
      'deployment: components.aws.greengrass.clientdevices.Auth.configuration.deviceGroups.definitions.g.policyName: ' +
        'Policy definition none does not have a corresponding policy',
    );
    expect(existsSync(socket)).toBe(false);
  });
});
