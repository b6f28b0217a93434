import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  installedPackages,
  outputMismatch,
  readReadmeSnippets,
  type CodeBlock,
  type SnippetFile,
} from '../support/readme-snippets.js';
import {
  MARIADB,
  POSTGRES,
  createTestDatabase,
  reachableDatabases,
  type DatabaseKind,
} from '../support/databases.js';
import {
  PROJECT_ROOT,
  freePort,
  linkDependencies,
  requiredPackages,
  runCommand,
  writeProjectFile,
} from '../support/scratch-project.js';

// The README is a test: its Quick start is built as a user's own project from the packed tarball
// and run over HTTP with its own curl lines, and every other TypeScript block compiles under strict.

const README = join(PROJECT_ROOT, 'README.md');
const QUICK_START = 'Quick start';

interface PackedFile {
  path: string;
}

const readme = readReadmeSnippets(README);
const quickStart = readme.blocks.filter((block) => block.section === QUICK_START);
const where = (block: CodeBlock) => `README.md:${block.line}`;
// The Quick start's database switch: each variant of src/database.ts runs against its server.
const databaseVariants = readme.files.filter(
  (file) => file.block.section === QUICK_START && file.variant && file.path === 'src/database.ts',
);

let work: string;
let packedFiles: string[];
let packStarted: number;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nts-readme-'));
  packStarted = Date.now();
  // `npm pack` runs prepack (a clean build), as `npm publish` does.
  const output = await runCommand('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: PROJECT_ROOT,
    timeout: 240_000,
  });
  const [packed] = JSON.parse(output) as [{ filename: string; files: PackedFile[] }];
  packedFiles = packed.files.map((file) => file.path);
  mkdirSync(join(work, 'package'));
  await runCommand('tar', ['-xzf', join(work, packed.filename), '-C', 'package', '--strip-components=1'], {
    cwd: work,
  });
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true, maxRetries: 5 });
});

describe('the packed package', () => {
  it('ships a fresh build of every entry point with its types, the licence and the changelog', () => {
    for (const entry of ['dist/index', 'dist/client/session-client', 'dist/testing/index']) {
      expect(packedFiles).toContain(`${entry}.js`);
      expect(packedFiles).toContain(`${entry}.d.ts`);
    }
    expect(packedFiles).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']),
    );
    // Built by prepack during this pack, not left over from an earlier build.
    expect(statSync(join(PROJECT_ROOT, 'dist', 'index.js')).mtimeMs).toBeGreaterThanOrEqual(
      packStarted - 1000,
    );
  });

  it('ships no tests, fixtures, sample, benchmarks or sources', () => {
    const stray = packedFiles.filter(
      (path) =>
        !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(path) &&
        !/^dist\/.+\.(js|d\.ts|js\.map)$/.test(path),
    );
    expect(stray).toEqual([]);
    expect(packedFiles.filter((path) => /spec|fixture|sample|bench|\/test\//.test(path))).toEqual([]);
  });

  it('imports at run time only what its package.json declares', () => {
    const manifest = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
    };
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ]);
    const undeclared = new Set<string>();
    for (const path of packedFiles.filter((file) => file.endsWith('.js'))) {
      const code = readFileSync(join(work, 'package', path), 'utf8');
      const specifiers = code.matchAll(/(?:\bfrom\s*|^import\s*|\bimport\(\s*)['"]([^'"\n]+)['"]/gm);
      for (const [, specifier] of specifiers) {
        if (/^(\.|\/|node:)/.test(specifier!)) continue;
        const name = specifier!.startsWith('@')
          ? specifier!.split('/', 2).join('/')
          : specifier!.split('/')[0]!;
        if (!declared.has(name)) undeclared.add(`${name} (${path})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  it('gives the browser client only shipped relative files, no package and no Node module', () => {
    const reached = new Set<string>();
    const foreign: string[] = [];
    const visit = (path: string): void => {
      if (reached.has(path)) return;
      reached.add(path);
      const code = readFileSync(join(work, 'package', path), 'utf8');
      for (const [, specifier] of code.matchAll(
        /(?:\bfrom\s*|^import\s*|\bimport\(\s*)['"]([^'"\n]+)['"]/gm,
      )) {
        if (!specifier!.startsWith('.')) foreign.push(`${specifier} (${path})`);
        else visit(posix.join(posix.dirname(path), specifier!));
      }
    };
    visit('dist/client/session-client.js');
    expect(foreign).toEqual([]);
    expect([...reached].filter((path) => !packedFiles.includes(path))).toEqual([]);
    expect([...reached]).toContain('dist/http/wire.js');
  });
});

describe('README', () => {
  it('marks every TypeScript block as a file (first line `// path`) or `// fragment`', () => {
    expect(readme.unmarked.map(where)).toEqual([]);
  });

  it('compiles every TypeScript file and variant under strict against the packed package', async () => {
    // What the Quick start installs, and what the other snippets say they need.
    const check = setUpProject(
      'check',
      installedPackages(
        readme.blocks,
        readme.files.map((file) => file.label),
      ),
    );
    // Every file once (base/), and each variant in a copy of base/ with its file replaced.
    const origin = new Map<string, SnippetFile>();
    const base = join(check, 'base');
    for (const file of readme.files.filter((snippet) => !snippet.variant)) {
      writeProjectFile(join(base, file.path), file.block.code);
      origin.set(join(base, file.path), file);
    }
    readme.files
      .filter((snippet) => snippet.variant)
      .forEach((file, index) => {
        const copy = join(check, `variant-${index + 1}`);
        cpSync(base, copy, { recursive: true });
        for (const snippet of readme.files.filter((other) => !other.variant)) {
          origin.set(join(copy, snippet.path), snippet);
        }
        writeProjectFile(join(copy, file.path), file.block.code);
        origin.set(join(copy, file.path), file);
      });
    writeProjectFile(
      join(check, 'tsconfig.check.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { strict: true, noEmit: true, rootDir: '.' },
        include: ['base/**/*.ts', 'variant-*/**/*.ts'],
      }),
    );
    const errors = await runCommand(
      process.execPath,
      [tsc(check), '-p', 'tsconfig.check.json', '--pretty', 'false'],
      {
        cwd: check,
      },
    ).then(
      () => '',
      (error: Error) => error.message,
    );
    // Each error once, at the README line it comes from.
    const located = new Set<string>();
    const lines = errors.split('\n').filter((line) => /\berror TS\d+/.test(line));
    if (errors && lines.length === 0) located.add(errors);
    for (const error of lines) {
      const at = /^((?:base|variant-\d+)\/[^(]+)\((\d+),\d+\): (.*)$/.exec(error);
      const snippet = at && origin.get(join(check, at[1]!));
      located.add(
        snippet
          ? `README.md:${snippet.block.line + Number(at[2]) - 1} (${`${snippet.path} ${snippet.label}`.trim()}): ${at[3]}`
          : error,
      );
    }
    expect([...located]).toEqual([]);
  }, 180_000);

  it('Quick start: builds as written, starts, and signs in, refreshes and signs out with its curl lines', async () => {
    await runQuickStart();
  }, 180_000);

  it.each(databaseVariants.map((variant) => [variant.label, variant] as const))(
    'Quick start with src/database.ts %s: the same curl lines',
    async (_label, variant) => {
      const kind: DatabaseKind = /type: 'mysql'/.test(variant.block.code) ? 'mariadb' : 'postgres';
      expect(variant.block.code).toMatch(kind === 'mariadb' ? /type: 'mysql'/ : /type: 'postgres'/);
      if ((await reachableDatabases([kind])).length === 0) return;
      const database = await createTestDatabase(kind);
      const name = (database.options as { database: string }).database;
      const url =
        kind === 'mariadb'
          ? `mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}/${name}`
          : `postgres://${POSTGRES.user}@${POSTGRES.host}:${POSTGRES.port}/${name}`;
      try {
        await runQuickStart(variant, { DATABASE_URL: url });
      } finally {
        await database.drop();
      }
    },
    180_000,
  );
});

let quickStartBuild: Promise<string> | undefined;

/** The Quick start built in a scratch project as a user would (once per run): its directory. */
function buildQuickStart(): Promise<string> {
  quickStartBuild ??= (async () => {
    const app = setUpProject('app', installedPackages(quickStart));
    const files = readme.files.filter((file) => file.block.section === QUICK_START && !file.variant);
    expect(files.map((file) => file.path)).toContain('src/main.ts');
    for (const file of files) writeProjectFile(join(app, file.path), file.block.code);
    await runCommand('npm', ['run', 'build', '--silent'], { cwd: app });
    return app;
  })();
  return quickStartBuild;
}

/**
 * Starts the built Quick start (with `variant` in place of its file: compiled alone, the type-check
 * test has checked it in the app) and runs the Quick start's curl lines against it, comparing what
 * they print.
 */
async function runQuickStart(variant?: SnippetFile, env: Record<string, string> = {}): Promise<void> {
  const app = await buildQuickStart();
  const original = readme.files.find((file) => file.path === variant?.path && !file.variant);
  if (variant) {
    linkDependencies(app, installedPackages([], [variant.label]));
    writeProjectFile(
      join(app, 'dist', variant.path.replace(/^src\//, '').replace(/\.ts$/, '.js')),
      transpile(variant),
    );
  }
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const [command, ...args] = manifest.scripts.start!.split(/\s+/);
  expect(command).toBe('node');

  const port = await freePort();
  // --preserve-symlinks: the linked packages resolve their own imports from this project's
  // node_modules, so a package the install line forgot is missing at run time too.
  const server = spawn(process.execPath, ['--preserve-symlinks', ...args], {
    cwd: app,
    env: { ...process.env, ...env, SESSION_SECRET: randomBytes(48).toString('base64'), PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  server.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    await waitForPort(port, server, () => log);
    const [flow, expected] = curlFlow();
    const output = await runCommand(
      'bash',
      ['-euo', 'pipefail', '-c', flow.code.replaceAll('http://localhost:3000', `http://localhost:${port}`)],
      { cwd: app, timeout: 30_000 },
    );
    expect(
      outputMismatch(output, expected.code),
      `${where(flow)} printed:\n${output}\nserver log:\n${log}`,
    ).toBeUndefined();
  } finally {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    if (server.exitCode === null && server.kill()) await exited;
    if (original) {
      writeProjectFile(
        join(app, 'dist', original.path.replace(/^src\//, '').replace(/\.ts$/, '.js')),
        transpile(original),
      );
    }
  }
}

/** One file's JavaScript, as tsc would emit it for the Quick start's ESM project. */
function transpile(file: SnippetFile): string {
  return ts.transpileModule(file.block.code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 },
    fileName: file.path,
  }).outputText;
}

/**
 * A scratch project: the Quick start's package.json and tsconfig.json, the packed package, and the
 * packages named by `npm install` lines (with what they and the package need) from this checkout.
 */
function setUpProject(name: string, packages: string[]): string {
  const directory = join(work, name);
  cpSync(join(work, 'package'), join(directory, 'node_modules', 'nestjs-token-session'), { recursive: true });
  linkDependencies(directory, [...packages, ...requiredPackages(join(work, 'package'))]);
  writeQuickStartConfig(directory);
  return directory;
}

/** Writes package.json and tsconfig.json from their `<!-- file: … -->` blocks. */
function writeQuickStartConfig(app: string): void {
  for (const name of ['package.json', 'tsconfig.json']) {
    const block = quickStart.find((candidate) => candidate.markedPath === name);
    expect(block, `Quick start shows ${name} after a <!-- file: ${name} --> line`).toBeDefined();
    writeProjectFile(join(app, name), block!.code);
  }
  const tsconfig = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: Record<string, unknown>;
  };
  expect(tsconfig.compilerOptions).toMatchObject({
    strict: true,
    module: 'nodenext',
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
  });
  expect(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'))).toMatchObject({ type: 'module' });
}

/** The Quick start's bash block of curl lines and the text block after it (what it prints). */
function curlFlow(): [CodeBlock, CodeBlock] {
  const index = quickStart.findIndex((block) => block.lang === 'bash' && /^curl /m.test(block.code));
  const expected = quickStart.slice(index + 1).find((block) => block.lang === 'text');
  expect(index, 'Quick start has a bash block of curl lines').toBeGreaterThanOrEqual(0);
  expect(expected, 'a text block after the curl lines shows what they print').toBeDefined();
  return [quickStart[index]!, expected!];
}

function tsc(app: string): string {
  return join(app, 'node_modules', 'typescript', 'bin', 'tsc');
}

/** Resolves once the app accepts connections; rejects with its output when it exits first. */
async function waitForPort(port: number, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null)
      throw new Error(`The Quick start app exited (${server.exitCode}):\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`The Quick start app did not listen on ${port} within 30 s:\n${log()}`);
}
