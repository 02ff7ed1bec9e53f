// The cloud half of defender-edge for one fleet, in one stack.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FleetAccess } from './fleetAccess.ts';
import type { FleetSettings } from './fleetConfig.ts';
import { FleetDashboard } from './fleetDashboard.ts';
import { GatewayDeployment } from './gatewayDeployment.ts';
import { ViolationAlerts } from './violationAlerts.ts';
import { ViolationRules } from './violationRules.ts';

export class FleetStack extends Stack {
  readonly alerts: ViolationAlerts;
  readonly rules: ViolationRules;
  readonly dashboard: FleetDashboard;
  readonly access: FleetAccess;
  readonly deployment: GatewayDeployment;

  constructor(scope: Construct, id: string, s: FleetSettings, props: StackProps = {}) {
    super(scope, id, {
      description:
        'defender-edge fleet: violation alerts, metrics, dashboard and alarms, the gateways’ Greengrass deployment and IoT policies',
      ...(s.env ? { env: s.env } : {}),
      ...props,
    });
    this.alerts = new ViolationAlerts(this, 'Alerts', s);
    this.rules = new ViolationRules(this, 'Rules', s, this.alerts);
    this.dashboard = new FleetDashboard(this, 'Monitoring', s, this.rules, this.alerts);
    this.access = new FleetAccess(this, 'Access', s);
    this.deployment = new GatewayDeployment(this, 'Gateways', s);

    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboard.dashboardName });
    new CfnOutput(this, 'ViolationAlertsTopic', { value: this.alerts.topic.topicArn });
    new CfnOutput(this, 'CorePolicyName', { value: this.access.corePolicy.ref });
    new CfnOutput(this, 'DevicePolicyName', { value: this.access.devicePolicy.ref });
    new CfnOutput(this, 'DeploymentId', { value: this.deployment.deployment.attrDeploymentId });
  }
}

export function stackName(s: FleetSettings): string {
  return `${s.name}-fleet`;
}
