import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layering of lib/ (README, Development): each rule names who may import what, read from the
// import statements themselves, so a shortcut across layers fails here before review.

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../lib');
const MAX_LINES = 450;

interface Import {
  /** The importing file, relative to lib/ (`tokens/key-ring.ts`). */
  file: string;
  /** The module specifier as written. */
  specifier: string;
  /** The imported file relative to lib/ for relative specifiers (`storage/session-store.ts`). */
  target: string | undefined;
  /** `import type` / `export type`: erased at build time. */
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[\s\S]*?\s+from\s+)?'([^']+)';/gm;

function importsOf(path: string): Import[] {
  const file = relative(LIB, path);
  return [...readFileSync(path, 'utf8').matchAll(IMPORT)].map(([, type, specifier]) => ({
    file,
    specifier,
    target: specifier.startsWith('.')
      ? relative(LIB, resolve(dirname(path), specifier)).replace(/\.js$/, '.ts')
      : undefined,
    typeOnly: type !== undefined,
  }));
}

const files = sourceFiles(LIB);
const imports = files.flatMap(importsOf);
const inFolder = (folder: string) => (entry: Import) => entry.file.startsWith(`${folder}/`);
const describeImport = (entry: Import) =>
  `${entry.file} imports ${entry.typeOnly ? 'type ' : ''}'${entry.specifier}'`;

describe('the layers of lib/', () => {
  it('finds the imports it checks', () => {
    // A parser that found nothing would pass every rule below.
    expect(files.length).toBeGreaterThan(20);
    expect(imports.filter(inFolder('tokens')).length).toBeGreaterThan(10);
    expect(imports.filter(inFolder('storage')).length).toBeGreaterThan(5);
  });

  it('keeps tokens/ free of Nest, TypeORM, HTTP and storage code (port types excepted)', () => {
    const offending = imports
      .filter(inFolder('tokens'))
      .filter(
        (entry) =>
          entry.specifier.startsWith('@nestjs/') ||
          entry.specifier === 'typeorm' ||
          entry.target?.startsWith('http/') ||
          (entry.target?.startsWith('storage/') && !entry.typeOnly),
      );
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('keeps storage/ free of tokens/ and http/', () => {
    const offending = imports
      .filter(inFolder('storage'))
      .filter((entry) => entry.target?.startsWith('tokens/') || entry.target?.startsWith('http/'));
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('lets only storage/ import TypeORM', () => {
    const offending = imports
      .filter((entry) => entry.specifier === 'typeorm' || entry.specifier === '@nestjs/typeorm')
      .filter((entry) => !entry.file.startsWith('storage/'));
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('lets only http/, the guard, decorators, controllers and the request-bound service handle requests', () => {
    const requestHandlers =
      /^(http\/|session\.guard\.ts$|session\.decorators\.ts$|.*\.controller\.ts$|session\.service\.ts$|session-operations\.ts$|index\.ts$|testing\/)/;
    const offending = imports
      .filter((entry) => entry.target === 'http/http-adapter.ts')
      .filter((entry) => !requestHandlers.test(entry.file));
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('lets the browser client import only the wire contract (and its own types, erased at build)', () => {
    const offending = imports
      .filter(inFolder('client'))
      .filter((entry) => entry.target !== 'http/wire.ts')
      .filter((entry) => !(entry.typeOnly && entry.target?.startsWith('client/')));
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('keeps the wire contract free of imports, so the browser client can ship it', () => {
    const offending = imports.filter((entry) => entry.file === 'http/wire.ts');
    expect(offending.map(describeImport)).toEqual([]);
  });

  it(`keeps every file of lib/ at most ${MAX_LINES} lines`, () => {
    const long = files
      .map((path) => ({ file: relative(LIB, path), lines: readFileSync(path, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(long).toEqual([]);
  });
});
