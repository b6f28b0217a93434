import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installedPackages, outputMismatch, readReadmeSnippets } from '../support/readme-snippets.js';

const directory = mkdtempSync(join(tmpdir(), 'nts-snippets-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function snippetsOf(markdown: string) {
  const path = join(directory, `${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(path, markdown);
  return readReadmeSnippets(path);
}

const fence = '```';

describe('README snippet extraction', () => {
  it('sorts TypeScript blocks into files, variants, fragments and unmarked blocks', () => {
    const snippets = snippetsOf(
      [
        '## Quick start',
        `${fence}ts`,
        '// src/database.ts',
        'export const a = 1;',
        fence,
        `${fence}ts`,
        '// src/database.ts for PostgreSQL: npm install pg',
        'export const a = 2;',
        fence,
        '## Other',
        `${fence}ts`,
        '// fragment: inside a controller',
        'this.x();',
        fence,
        `${fence}ts`,
        'const loose = 1;',
        fence,
        `${fence}js`,
        'not checked();',
        fence,
      ].join('\n'),
    );
    expect(
      snippets.files.map(({ path, label, variant, block }) => [path, label, variant, block.section]),
    ).toEqual([
      ['src/database.ts', '', false, 'Quick start'],
      ['src/database.ts', 'for PostgreSQL: npm install pg', true, 'Quick start'],
    ]);
    expect(snippets.files[1]!.block.line).toBe(7);
    expect(snippets.unmarked.map((block) => [block.line, block.code])).toEqual([[16, 'const loose = 1;\n']]);
  });

  it('reads the file named by a <!-- file: … --> line above a fence', () => {
    const { blocks } = snippetsOf(['<!-- file: package.json -->', `${fence}json`, '{}', fence].join('\n'));
    expect(blocks).toEqual([
      expect.objectContaining({ lang: 'json', markedPath: 'package.json', code: '{}\n' }),
    ]);
  });

  it('lists the packages of npm install commands without version ranges', () => {
    const { blocks } = snippetsOf(
      [
        `${fence}bash`,
        'npm install && npm run sample   # no packages',
        'npm install a @scope/b \\',
        '  c@^1.2',
        'npm install -D typescript@~6.0 @types/node@20',
        fence,
      ].join('\n'),
    );
    expect(installedPackages(blocks, ['for PostgreSQL: npm install pg; DATABASE_URL=postgres://x'])).toEqual([
      'a',
      '@scope/b',
      'c',
      'typescript',
      '@types/node',
      'pg',
    ]);
  });

  it('matches output line by line, with … standing for any text', () => {
    expect(outputMismatch('{"message":"gone"} 401\n', '{"message":"…"} 401')).toBeUndefined();
    expect(outputMismatch('{"role":{"role":"admin"}} 200', '{"role":"admin"} 200')).toMatch(/^line 1: /);
    expect(outputMismatch('a\nb', 'a')).toMatch(/^line 2: expected "\(nothing\)"/);
    expect(outputMismatch('a.b', 'a?b')).toMatch(/^line 1: /);
  });
});
