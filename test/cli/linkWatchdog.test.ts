import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '../../bin/defender-edge.js');
const run = (args: string[]) => spawnSync(process.execPath, [bin, '_link-watchdog', ...args], { encoding: 'utf8', timeout: 20_000 });

describe('defender-edge _link-watchdog (hidden)', () => {
  it.each([
    [['--ifname', 'eth1', '--at-ms', '5'], /--state: an absolute path is required/],
    [['--state', 'relative/active.json', '--ifname', 'eth1', '--at-ms', '5'], /--state: an absolute path is required/],
    [['--state', '/nonexistent-dedge/active.json', '--at-ms', '5'], /--ifname is required/],
    [['--state', '/nonexistent-dedge/active.json', '--ifname', 'bad/if', '--at-ms', '5'], /--ifname: must be an interface name/],
    [['--state', '/nonexistent-dedge/active.json', '--ifname', 'eth1', '--at-ms', 'soon'], /--at-ms: must be a positive integer/],
    [
      ['--state', '/nonexistent-dedge/active.json', '--ifname', 'eth1', '--at-ms', '5', '--netns', 'bad name!'],
      /--netns: must be a network namespace name/,
    ],
  ])('refuses %j with a usage error naming the option (exit 2), touching nothing', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('exits 0 without running anything when its state folder does not exist', () => {
    const r = run(['--state', '/nonexistent-dedge/enforcement/active.json', '--ifname', 'eth1', '--at-ms', String(Date.now() + 60_000)]);
    expect(r.status).toBe(0);
  });
});
