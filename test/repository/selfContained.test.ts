// The repository is all a user gets: no tracked file may point at the team's private notes (a `shared`
// folder beside the checkout, its note files by name), at issue numbers of our own tracker, or at a
// numbered section of a private spec (a bare section sign and number). Facts are cited by public source — AWS documentation,
// public repositories at a fixed commit, RFCs and other published specs — or by a page under docs/.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Generated or third-party data with no prose of ours in it. */
const SKIP = [/^package-lock\.json$/, /^test\/fixtures\/gdk-schemas\//];

/** The private note files, by name (built from parts so that this file does not cite them itself). */
const NOTE_NAMES = ['device-defender', 'greengrass', 'greengrass-real-cores', 'rogue-agent', 'packaging-notes', 'footprint-notes'];
const NOTE_FILE = new RegExp(`(?<![\\w.-])(?:${NOTE_NAMES.join('|')})\\.md\\b`);
/** The team's design note of the same name; ours is docs/architecture.md, which is fine. */
const DESIGN_NOTE = /(?<![\w.-])(?<!docs\/)architecture\.md\b/;
const SHARED_PATH = /\.\.\/shared\b|\bshared\/(?:spec|design|scenario|schemas|hooks)\b/;
const ISSUE_NUMBER = /\b[Ii]ssues? #?\d+/;
/** U+00A7, the section sign, written as an escape so that this file holds none. */
const SECTION = '\u00a7';
/** A section sign is fine right after the public spec it belongs to: MQTT 3.1.1, an RFC, PKWARE's APPNOTE. */
const PUBLIC_SPEC_BEFORE_SECTION = /(?:MQTT(?: 3\.1\.1| 5(?:\.0)?)?|RFC \d+|APPNOTE(?:\.TXT)?(?: [\d.]+)?)\s*$/;

/** Every citation in `text` that a user cannot follow, as `line N: reason: excerpt`. */
function privateCitations(text: string, path = ''): string[] {
  const found: string[] = [];
  const inDocs = path.startsWith('docs/');
  text.split('\n').forEach((line, i) => {
    const at = (reason: string) => found.push(`line ${i + 1}: ${reason}: ${line.trim().slice(0, 120)}`);
    if (SHARED_PATH.test(line)) at('cites the private shared folder');
    if (NOTE_FILE.test(line)) at('cites a private note file');
    if (!inDocs && DESIGN_NOTE.test(line)) at('cites the private design note (use docs/architecture.md)');
    if (ISSUE_NUMBER.test(line)) at('cites an issue number');
    for (let k = line.indexOf(SECTION); k !== -1; k = line.indexOf(SECTION, k + 1)) {
      if (!PUBLIC_SPEC_BEFORE_SECTION.test(line.slice(Math.max(0, k - 40), k))) {
        at('cites a section without naming a public spec');
        break;
      }
    }
  });
  return found;
}

function trackedFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    return out.split('\0').filter((f) => f !== '');
  } catch {
    // Not a git checkout (an unpacked archive): every file outside the generated and installed folders.
    const ignored = /^(?:\.git|node_modules|artifacts|greengrass-build|coverage)(?:\/|$)/;
    return readdirSync(ROOT, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(ROOT, join(e.parentPath, e.name)))
      .filter((f) => !ignored.test(f));
  }
}

describe('the repository cites nothing outside itself', () => {
  it('recognises private citations and leaves public ones alone', () => {
    const privateOnes = [
      `facts from ${'../sha'}red/spec/notes`,
      `see ${'shar'}ed/scenario/x`,
      `the report format (${NOTE_NAMES[0]}.md ${SECTION}1.2)`,
      `accessControl (${NOTE_NAMES[1]}.md)`,
      `the composition root (${'archi'}tecture.md)`,
      `fault test (${'iss'}ue 8)`,
      `before the fix (${'Iss'}ues #23)`,
      `the only documented rejection (${SECTION}1.5)`,
    ];
    for (const text of privateOnes) expect(privateCitations(text), text).not.toEqual([]);
    const publicOnes = [
      `wildcards are not allowed in a topic name (MQTT 3.1.1 ${SECTION}4.7.1)`,
      `duplicate map keys (RFC 8949 ${SECTION}5.6 "not valid")`,
      `the central directory (APPNOTE ${SECTION}4.3.12)`,
      'layout and conventions: docs/architecture.md#conventions',
      'what the component uses from Greengrass (docs/greengrass-ipc.md)',
      'the Greengrass component page device-defender-component.html',
      'stream issues are counted',
    ];
    for (const text of publicOnes) expect(privateCitations(text), text).toEqual([]);
    expect(privateCitations(`[architecture](${'archi'}tecture.md)`, 'docs/reports.md')).toEqual([]);
  });

  it('holds for every tracked file', () => {
    const files = trackedFiles().filter((f) => !SKIP.some((s) => s.test(f)));
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain('README.md');
    const problems: string[] = [];
    for (const f of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(ROOT, f));
      } catch {
        continue; // deleted in the work tree but still in the index
      }
      if (bytes.includes(0)) continue; // binary
      for (const p of privateCitations(bytes.toString('utf8'), f)) problems.push(`${f}: ${p}`);
    }
    expect(problems).toEqual([]);
  });
});
