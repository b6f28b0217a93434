import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This checkout's root. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs a command and answers its stdout; a non-zero exit rejects with both streams in the message. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeout ?? 120_000,
        maxBuffer: 64 << 20,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(
              `${command} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${stdout}\n${stderr}`,
            ),
          );
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

interface PackageManifest {
  name: string;
  bin?: string | Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function readManifest(directory: string): PackageManifest {
  return JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as PackageManifest;
}

/**
 * Gives a scratch project the packages `npm install <names>` would, without a registry: the named
 * packages and everything they need (dependencies, required peers) are symlinked from this checkout's
 * node_modules, with their `.bin` entries. A package missing from the list is missing in the scratch
 * project too, so an incomplete install line fails there as it would for a user.
 * @throws Error when a named package is not in this checkout's node_modules.
 */
export function linkDependencies(projectDir: string, names: readonly string[]): void {
  const source = join(PROJECT_ROOT, 'node_modules');
  const target = join(projectDir, 'node_modules');
  mkdirSync(join(target, '.bin'), { recursive: true });
  const linked = new Set<string>();
  const visited = new Set<string>();

  const resolveFrom = (directory: string, name: string): string | undefined => {
    // Node's lookup: the nearest node_modules/<name> walking up, ending at the checkout's.
    for (let current = directory; current.startsWith(source); current = dirname(current)) {
      const candidate = join(current, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
      if (current === source) break;
    }
    const topLevel = join(source, name);
    return existsSync(join(topLevel, 'package.json')) ? topLevel : undefined;
  };

  const visit = (directory: string): void => {
    if (visited.has(directory)) return;
    visited.add(directory);
    const manifest = readManifest(directory);
    const required = [
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}).filter(
        (peer) => !manifest.peerDependenciesMeta?.[peer]?.optional,
      ),
    ];
    for (const name of required) {
      const found = resolveFrom(directory, name);
      if (!found) continue; // an optional dependency for another platform
      if (dirname(found) === source || dirname(dirname(found)) === source)
        linked.add(relative(source, found));
      visit(found);
    }
  };

  for (const name of names) {
    if (existsSync(join(target, name, 'package.json'))) continue; // installed already (the tarball)
    const found = join(source, name);
    if (!existsSync(join(found, 'package.json'))) {
      throw new Error(`The README installs ${name}, which this checkout's node_modules lacks.`);
    }
    linked.add(name);
    visit(found);
  }
  for (const name of [...linked].sort()) {
    const link = join(target, name);
    if (existsSync(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(source, name), link, 'dir');
    const { bin } = readManifest(join(source, name));
    const bins = typeof bin === 'string' ? { [name.split('/').pop()!]: bin } : (bin ?? {});
    for (const [command, file] of Object.entries(bins)) {
      const binLink = join(target, '.bin', command);
      if (!existsSync(binLink)) symlinkSync(join('..', name, file), binLink);
    }
  }
}

/** Names of the packages a package.json asks npm to install with it (dependencies, required peers). */
export function requiredPackages(packageDir: string): string[] {
  const manifest = readManifest(packageDir);
  return [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}).filter(
      (peer) => !manifest.peerDependenciesMeta?.[peer]?.optional,
    ),
  ];
}

/** Writes a file, creating its folders. */
export function writeProjectFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** A TCP port free at the time of the call. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
