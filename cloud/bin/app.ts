// The CDK app: `npx cdk synth|deploy|destroy` runs it (cdk.json), and so does `npm run synth` without the
// CLI and without AWS credentials. No context lookups: the stack is environment-agnostic unless
// fleet.config.ts names an account and region.
import { App } from 'aws-cdk-lib';
import { fleet } from '../fleet.config.ts';
import { FleetConfigError, fleetSettings } from '../lib/fleetConfig.ts';
import { FleetStack, stackName } from '../lib/fleetStack.ts';

let settings: ReturnType<typeof fleetSettings>;
try {
  settings = fleetSettings(fleet);
} catch (err) {
  if (!(err instanceof FleetConfigError)) throw err;
  process.stderr.write(`fleet.config.ts:\n${err.errors.map((e) => `  ${e}`).join('\n')}\n`);
  process.exit(1);
}
const app = new App({ outdir: process.env.CDK_OUTDIR ?? 'cdk.out' });
new FleetStack(app, stackName(settings), settings);
app.synth();
