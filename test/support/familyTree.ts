// Child process for tests: a process tree from a JSON spec, every member a real process.
//   node familyTree.ts '{"title":"root","children":[{"title":"kid","children":[{"title":"grandkid"}]}]}'
// Each member names itself (process.title sets /proc/PID/comm) and starts its children; none exits on its
// own. A member whose spec says "ignoreTerm" survives SIGTERM. Tests run it as the init-less member of a
// private pid namespace (unshare --pid --fork --kill-child), so whatever happens the kernel ends the whole
// tree with the namespace.
import { spawn } from 'node:child_process';

interface Spec {
  title: string;
  ignoreTerm?: boolean;
  children?: Spec[];
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
process.title = spec.title;
if (spec.ignoreTerm) process.on('SIGTERM', () => {});
for (const c of spec.children ?? []) spawn(process.execPath, [process.argv[1]!, JSON.stringify(c)], { stdio: 'inherit' });
setInterval(() => {}, 1000);
