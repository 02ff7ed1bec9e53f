// The IoT policies of the gateways and downstream devices, attached to their thing groups, and (optionally)
// the gateways' token exchange role and role alias.
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { FleetSettings } from './fleetConfig.ts';
import { type ArnOf, corePolicy, devicePolicy } from './iotPolicyDocuments.ts';

export function thingGroupArn(scope: Construct, name: string): string {
  return Stack.of(scope).formatArn({ service: 'iot', resource: 'thinggroup', resourceName: name });
}

export class FleetAccess extends Construct {
  readonly corePolicy: iot.CfnPolicy;
  readonly devicePolicy: iot.CfnPolicy;
  readonly tokenExchangeRole?: iam.Role;

  constructor(scope: Construct, id: string, s: FleetSettings) {
    super(scope, id);
    const stack = Stack.of(this);
    const arn: ArnOf = (service, resource) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
    const inputs = {
      gatewayPrefix: s.gateways.thingNamePrefix,
      devicePrefix: s.downstream.thingNamePrefix,
      roleAliasName: s.tokenExchange.roleAliasName,
    };

    this.corePolicy = new iot.CfnPolicy(this, 'CorePolicy', { policyName: `${s.name}-core`, policyDocument: corePolicy(inputs, arn) });
    this.devicePolicy = new iot.CfnPolicy(this, 'DevicePolicy', {
      policyName: `${s.name}-device`,
      policyDocument: devicePolicy(inputs, arn),
    });

    if (s.tokenExchange.create) {
      // What the gateways' components may do in AWS: read the component artifacts (greengrass developer guide,
      // device-service-role.md); nothing else.
      this.tokenExchangeRole = new iam.Role(this, 'TokenExchangeRole', {
        assumedBy: new iam.ServicePrincipal('credentials.iot.amazonaws.com'),
        description: 'Greengrass token exchange role of the defender-edge gateways',
      });
      this.tokenExchangeRole.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: s.tokenExchange.create.artifactBucketNames.map((b) => `arn:${stack.partition}:s3:::${b}/*`),
        }),
      );
      new iot.CfnRoleAlias(this, 'TokenExchangeRoleAlias', {
        roleAlias: s.tokenExchange.roleAliasName,
        roleArn: this.tokenExchangeRole.roleArn,
        credentialDurationSeconds: 3600,
      });
    }

    if (s.attachPolicies) {
      this.attach('AttachCorePolicy', this.corePolicy, s.gateways.thingGroupName);
      if (s.downstream.thingGroupName) this.attach('AttachDevicePolicy', this.devicePolicy, s.downstream.thingGroupName);
    }
  }

  /** CloudFormation cannot attach an IoT policy to a thing group; AttachPolicy / DetachPolicy through a custom resource. */
  private attach(id: string, policy: iot.CfnPolicy, groupName: string): void {
    const target = thingGroupArn(this, groupName);
    const call = (action: 'attachPolicy' | 'detachPolicy') => ({
      service: 'Iot',
      action,
      parameters: { policyName: policy.ref, target },
      physicalResourceId: PhysicalResourceId.of(`${groupName}:${policy.ref}`),
    });
    new AwsCustomResource(this, id, {
      onCreate: call('attachPolicy'),
      onUpdate: call('attachPolicy'),
      onDelete: call('detachPolicy'),
      policy: AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({
          actions: ['iot:AttachPolicy', 'iot:DetachPolicy'],
          resources: [Stack.of(this).formatArn({ service: 'iot', resource: 'policy', resourceName: policy.ref }), target],
        }),
      ]),
      installLatestAwsSdk: false,
    });
  }
}
