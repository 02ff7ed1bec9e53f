// Network namespace names reach `ip netns exec NAME …` as an argument: only a conservative set of
// characters, and never a leading `-`, which `ip` would read as an option.

const NETNS = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,63}$/;

/** The name itself, or an error `field: message` naming the refused value. */
export function validateNetnsName(name: unknown, field = 'netns'): string {
  if (typeof name !== 'string' || !NETNS.test(name) || name === '.' || name === '..') {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name) : `a ${typeof name}`;
    throw new Error(`${field}: must be a network namespace name [a-zA-Z0-9_.-]{1,64}, not starting with '-', got ${shown}`);
  }
  return name;
}
