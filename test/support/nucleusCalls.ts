// How often the agent may call each IPC operation of the nucleus, to catch retry storms on either core
// (the emulator counts requests per operation: GreengrassEmulator.requestCounts()). Not a test file.
import type { NucleusFlavor } from '../../src/ipc/emulator/flavor.ts';

/** Operations called once per message: the outbox retries a refused publish with backoff, bounded elsewhere. */
export const PER_MESSAGE_OPERATIONS: readonly string[] = ['PublishToIoTCore', 'PublishToTopic'];

/**
 * The most calls per set-up operation that one agent on one connection, with no configuration update, may
 * make: each subscription once (IoT Core: the Defender acceptances and rejections, the operators' commands
 * topic of src/control/cloudCommands.ts), the state once. On lite the validation subscription fails (ServiceError)
 * and must be asked exactly once, and no validity report is ever sent.
 */
export const ONE_CONNECTION_BUDGET: Record<NucleusFlavor, Record<string, number>> = {
  classic: {
    SubscribeToValidateConfigurationUpdates: 1,
    SubscribeToConfigurationUpdate: 1,
    GetConfiguration: 1,
    SubscribeToIoTCore: 3,
    SubscribeToTopic: 1,
    UpdateState: 1,
  },
  lite: {
    SubscribeToValidateConfigurationUpdates: 1,
    SubscribeToConfigurationUpdate: 1,
    GetConfiguration: 1,
    SubscribeToIoTCore: 3,
    SubscribeToTopic: 1,
    UpdateState: 1,
  },
};

/**
 * `operation: n calls > budget` for every set-up operation called more often than its budget allows, and
 * for every operation that has no budget and is not a per-message one. Empty when the agent kept to it.
 */
export function callsBeyondBudget(counts: Record<string, number>, budget: Record<string, number>): string[] {
  const problems: string[] = [];
  for (const [operation, n] of Object.entries(counts)) {
    if (PER_MESSAGE_OPERATIONS.includes(operation)) continue;
    const allowed = budget[operation];
    if (allowed === undefined) problems.push(`${operation}: ${n} calls, none expected`);
    else if (n > allowed) problems.push(`${operation}: ${n} calls > ${allowed}`);
  }
  return problems;
}
