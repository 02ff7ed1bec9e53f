// The demo's cast as real processes: started from this program, named by their process title, watched
// until stopped (exit or SIGSTOP), and never outliving the demo that started them.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Actor, isRunning, procState, spawnActor, stopActor } from '../../src/demo/cast.ts';
import { selfCommand } from '../../src/selfCommand.ts';
import { until } from '../support/until.ts';

const actors: Actor[] = [];
const strays: number[] = [];
afterEach(async () => {
  await Promise.all(actors.splice(0).map((a) => stopActor(a)));
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

describe('selfCommand', () => {
  it('from the sources: this Node and bin/defender-edge.js, never the test runner', () => {
    const c = selfCommand(['_innocent', '--interval-ms', '5']);
    expect(c.file).toBe(process.execPath);
    expect(c.args[0]).toMatch(/bin\/defender-edge\.js$/);
    expect(existsSync(c.args[0]!)).toBe(true);
    expect(c.args.slice(1)).toEqual(['_innocent', '--interval-ms', '5']);
  });
});

describe('cast', () => {
  it('starts an actor that names itself in /proc/PID/comm, and stops it', async () => {
    const a = await spawnActor('innocent', []);
    actors.push(a);
    expect(readFileSync(`/proc/${a.pid}/comm`, 'utf8').trim()).toBe('innocent');
    expect(isRunning(a)).toBe(true);
    expect(a.lines[0]).toMatchObject({ role: 'innocent', started: true, pid: a.pid });
    await stopActor(a);
    expect(a.exitCode).toBe(0);
    expect(a.stoppedHow).toBe('exited');
    expect(isRunning(a)).toBe(false);
    expect(a.lines.at(-1)).toMatchObject({ role: 'innocent', ticks: 0 });
  });

  it('sees a SIGSTOP as stopped while the process lives on, and stopActor still ends it', async () => {
    const a = await spawnActor('innocent', [], { stopPollMs: 10 });
    actors.push(a);
    process.kill(a.pid, 'SIGSTOP');
    await until(() => a.stoppedAt !== undefined, 5000, 'the stop to be seen');
    expect(a.stoppedHow).toBe('suspended');
    expect(procState(a.pid)).toBe('T');
    expect(isRunning(a)).toBe(false);
    await stopActor(a);
    expect(a.exitedAt).toBeDefined();
  });

  it('an actor with a bad command line fails to start with its usage error', async () => {
    await expect(spawnActor('device', ['--url', 'mqtt://127.0.0.1:1'])).rejects.toThrow(
      /exited with 2 before it was ready.*--thing: must be a thing name/,
    );
    await expect(spawnActor('rogue-agent', ['--url', 'mqtt://127.0.0.1:1', '--interval-ms', '0'])).rejects.toThrow(
      /--interval-ms: must be an integer/,
    );
  });

  it('an actor whose parent dies without cleaning up stops by itself', async () => {
    const c = selfCommand(['_innocent']);
    // A parent that starts an actor, prints its pid and exits at once (as a demo killed with SIGKILL would).
    const script = [
      "const {spawn}=require('node:child_process');",
      `const c=spawn(${JSON.stringify(c.file)},${JSON.stringify(c.args)},{stdio:['ignore','pipe','ignore']});`,
      "c.stdout.once('data',()=>{process.stdout.write(String(c.pid));process.exit(0);});",
    ].join('');
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      parent.once('exit', () => (out ? resolve(Number(out)) : reject(new Error('no pid'))));
    });
    strays.push(pid);
    expect(pid).toBeGreaterThan(1);
    await until(
      () => {
        const s = procState(pid);
        return s === null || s === 'Z';
      },
      10_000,
      `orphaned actor ${pid} to exit`,
    );
  });
});
