// The Greengrass deployment of the gateways' thing group: defender-edge with the fleet's configuration and
// the client-device components configured to agree with it (src: componentConfigs.ts). A thing group has
// one current deployment; a new one replaces it on every member. Rolled out at a bounded rate, abandoned
// (and rolled back on each gateway) when too many gateways fail.
import * as greengrass from 'aws-cdk-lib/aws-greengrassv2';
import { Construct } from 'constructs';
import { deploymentComponents } from './componentConfigs.ts';
import { thingGroupArn } from './fleetAccess.ts';
import type { FleetSettings } from './fleetConfig.ts';

export class GatewayDeployment extends Construct {
  readonly deployment: greengrass.CfnDeployment;

  constructor(scope: Construct, id: string, s: FleetSettings) {
    super(scope, id);
    const components: Record<string, greengrass.CfnDeployment.ComponentDeploymentSpecificationProperty> = {};
    for (const [name, c] of Object.entries(deploymentComponents(s))) {
      components[name] = { componentVersion: c.version, configurationUpdate: { merge: JSON.stringify(c.merge) } };
    }
    this.deployment = new greengrass.CfnDeployment(this, 'Deployment', {
      targetArn: thingGroupArn(this, s.gateways.thingGroupName),
      deploymentName: `${s.name}-defender-edge`,
      components,
      deploymentPolicies: {
        failureHandlingPolicy: 'ROLLBACK',
        // The agent applies a new configuration without a restart and keeps enforcing during an update.
        componentUpdatePolicy: { action: 'NOTIFY_COMPONENTS', timeoutInSeconds: 60 },
        // A configuration the agent refuses (`path: message`) fails the deployment on that gateway.
        configurationValidationPolicy: { timeoutInSeconds: 30 },
      },
      iotJobConfiguration: {
        jobExecutionsRolloutConfig: { maximumPerMinute: s.rollout.maximumPerMinute },
        abortConfig: {
          criteriaList: [
            {
              action: 'CANCEL',
              failureType: 'ALL',
              minNumberOfExecutedThings: s.rollout.minExecutedThings,
              thresholdPercentage: s.rollout.abortThresholdPercentage,
            },
          ],
        },
      },
    });
  }
}
