// The AWS IoT policy documents of the core devices (gateways) and of the downstream devices, least
// privilege. Greengrass does not support thing policy variables (iot:Connection.Thing.*) in core-device
// policies or for Greengrass data-plane actions (Greengrass developer guide, device-auth.md "Minimal AWS IoT
// policy for client devices"), so the documents use the fleet's thing-name prefixes with `*`, IoT policies'
// wildcard; `+` and `#` are literal characters there (AWS IoT developer guide, pub-sub-policy.md), which is
// what lets a Subscribe statement name the agent's exact topic filters. Pure: ARNs come from `arn`.

export interface PolicyStatement {
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** Builds an ARN: service (iot, greengrass) and the resource part after the account. */
export type ArnOf = (service: 'iot' | 'greengrass', resource: string) => string;

export interface PolicyInputs {
  gatewayPrefix: string;
  devicePrefix: string;
  roleAliasName: string;
}

const allow = (actions: string[], resources: string[]): PolicyStatement => ({ Effect: 'Allow', Action: actions, Resource: resources });

export function corePolicy(p: PolicyInputs, arn: ArnOf): PolicyDocument {
  const gw = `${p.gatewayPrefix}*`;
  const dev = `${p.devicePrefix}*`;
  const topic = (t: string) => arn('iot', `topic/${t}`);
  const filter = (t: string) => arn('iot', `topicfilter/${t}`);
  const defender = (thing: string) => [
    topic(`$aws/things/${thing}/defender/metrics/json`),
    topic(`$aws/things/${thing}/defender/metrics/cbor`),
  ];
  return {
    Version: '2012-10-17',
    Statement: [
      // Greengrass nucleus: its own connection(s) (client ids are the thing name with a suffix), telemetry,
      // jobs and shadows (including the client-device auth's `<thing>-gci` shadow), deployments, the token
      // exchange role (greengrass developer guide, device-auth.md "Minimal AWS IoT policy for ... core devices").
      allow(['iot:Connect'], [arn('iot', `client/${gw}`)]),
      allow(
        ['iot:Publish', 'iot:Receive'],
        [
          topic(`$aws/things/${gw}/greengrass/health/json`),
          topic(`$aws/things/${gw}/greengrassv2/health/json`),
          topic(`$aws/things/${gw}/jobs/*`),
          topic(`$aws/things/${gw}/shadow/*`),
        ],
      ),
      allow(['iot:Subscribe'], [filter(`$aws/things/${gw}/jobs/*`), filter(`$aws/things/${gw}/shadow/*`)]),
      allow(['iot:GetThingShadow', 'iot:UpdateThingShadow', 'iot:DeleteThingShadow'], [arn('iot', `thing/${gw}`)]),
      allow(['iot:AssumeRoleWithCertificate'], [arn('iot', `rolealias/${p.roleAliasName}`)]),
      allow(
        [
          'greengrass:GetComponentVersionArtifact',
          'greengrass:ResolveComponentCandidates',
          'greengrass:GetDeploymentConfiguration',
          'greengrass:ListThingGroupsForCoreDevice',
        ],
        ['*'],
      ),
      // Client device auth, Moquette and the IP detector (device-auth.md "Minimal AWS IoT policy to support
      // client devices"), restricted to the downstream devices and the gateways' own connectivity info.
      allow(['greengrass:PutCertificateAuthorities', 'greengrass:VerifyClientDeviceIdentity'], ['*']),
      allow(['greengrass:VerifyClientDeviceIoTCertificateAssociation'], [arn('iot', `thing/${dev}`)]),
      // The resource is the core device's thing, not the API path (the Greengrass developer guide's minimal
      // policy for client-device support: https://docs.aws.amazon.com/greengrass/v2/developerguide/device-auth.html).
      allow(['greengrass:GetConnectivityInfo', 'greengrass:UpdateConnectivityInfo'], [arn('iot', `thing/${gw}`)]),
      // defender-edge: Device Defender reports for the gateway and its downstream devices (the service accepts
      // reports published for another thing on that thing's reserved topic), violations, heartbeats, and the
      // answers to operators' commands. Never the commands topic itself: a core allowed to publish there
      // could command its gateways (src/control/cloudCommands.ts, docs/security.md).
      allow(
        ['iot:Publish'],
        [
          ...defender(gw),
          ...defender(dev),
          topic(`defender-edge/${gw}/violations`),
          topic(`defender-edge/${dev}/violations`),
          topic(`defender-edge/${gw}/heartbeat`),
          topic(`defender-edge/${gw}/commands/accepted`),
          topic(`defender-edge/${gw}/commands/rejected`),
        ],
      ),
      // The agent's subscriptions, by their exact filters (src/agent/agent.ts, src/control/cloudCommands.ts):
      // its own acceptances, every thing's rejections, its operators' commands.
      allow(
        ['iot:Subscribe'],
        [
          filter(`$aws/things/${gw}/defender/metrics/+/accepted`),
          filter('$aws/things/+/defender/metrics/+/rejected'),
          filter(`defender-edge/${gw}/commands`),
        ],
      ),
      allow(
        ['iot:Receive'],
        [
          topic(`$aws/things/${gw}/defender/metrics/*/accepted`),
          topic(`$aws/things/${gw}/defender/metrics/*/rejected`),
          topic(`$aws/things/${dev}/defender/metrics/*/rejected`),
          topic(`defender-edge/${gw}/commands`),
        ],
      ),
    ],
  };
}

/**
 * Downstream devices talk to the gateway's broker, authorized by client device auth, not by IoT Core; in
 * the cloud they only discover their gateway (greengrass:Discover on their own thing).
 */
export function devicePolicy(p: PolicyInputs, arn: ArnOf): PolicyDocument {
  return { Version: '2012-10-17', Statement: [allow(['greengrass:Discover'], [arn('iot', `thing/${p.devicePrefix}*`)])] };
}
