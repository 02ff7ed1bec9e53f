// Which real Greengrass core the emulator behaves like.
// - classic: the Java nucleus (aws-greengrass-nucleus) with the client-device components
//   (aws.greengrass.clientdevices.Auth, a broker, aws.greengrass.clientdevices.mqtt.Bridge).
// - lite: Greengrass nucleus lite (aws-greengrass-lite), the C nucleus for constrained devices: fewer IPC
//   operations, string numbers in GetConfiguration, 255-sub-object and 10,000-byte limits, no spooler,
//   generic components only (so no client-device broker or bridge).
export const NUCLEUS_FLAVORS = ['classic', 'lite'] as const;
export type NucleusFlavor = (typeof NUCLEUS_FLAVORS)[number];

export function isNucleusFlavor(v: unknown): v is NucleusFlavor {
  return typeof v === 'string' && (NUCLEUS_FLAVORS as readonly string[]).includes(v);
}
