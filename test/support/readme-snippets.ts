import { readFileSync } from 'node:fs';

/** One fenced code block of a markdown file. */
export interface CodeBlock {
  /** The fence's language (`ts`, `json`, `bash`…), lower case. */
  lang: string;
  /** The `## ` section the block sits in ('' before the first). */
  section: string;
  /** 1-based line of the block's first code line in the markdown file. */
  line: number;
  code: string;
  /** The file named by a `<!-- file: path -->` line right above the fence, if any. */
  markedPath?: string;
}

/** A TypeScript block that is a file: its first line is a comment naming the path. */
export interface SnippetFile {
  path: string;
  /** Text after the path on the first line (`for MySQL/MariaDB: …`); set for every variant. */
  label: string;
  block: CodeBlock;
  /** A later block for a path another block already defined: checked in place of that file. */
  variant: boolean;
}

export interface ReadmeSnippets {
  blocks: CodeBlock[];
  /** Every TypeScript block that names its path, in README order. */
  files: SnippetFile[];
  /** TypeScript blocks that neither name a path nor start with `// fragment`. */
  unmarked: CodeBlock[];
}

const FENCE = /^```(\S*)/;
const FILE_MARKER = /^<!--\s*file:\s*(\S+)\s*-->$/;
const PATH_COMMENT = /^\/\/ ((?:[\w.-]+\/)*[\w.-]+\.[cm]?tsx?)(?:\s+(.*))?$/;
const FRAGMENT_COMMENT = /^\/\/ fragment\b/;
const TS_LANGS = new Set(['ts', 'typescript', 'tsx']);

/** Reads every fenced block of a markdown file. */
export function readCodeBlocks(markdownPath: string): CodeBlock[] {
  const lines = readFileSync(markdownPath, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  let section = '';
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const fence = FENCE.exec(line);
    if (!fence) continue;
    const start = index + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.startsWith('```')) end++;
    const marker = FILE_MARKER.exec(lines[index - 1]?.trim() ?? '');
    blocks.push({
      lang: fence[1]!.toLowerCase(),
      section,
      line: start + 1,
      code: lines.slice(start, end).join('\n') + '\n',
      markedPath: marker?.[1],
    });
    index = end;
  }
  return blocks;
}

/**
 * Sorts the TypeScript blocks of a README into files (first line `// path/to/file.ts`), variants
 * (a later block for a path already given: `// src/database.ts for PostgreSQL`) and unmarked blocks
 * (neither a path nor `// fragment`), which the docs test refuses.
 */
export function readReadmeSnippets(markdownPath: string): ReadmeSnippets {
  const blocks = readCodeBlocks(markdownPath);
  const files: SnippetFile[] = [];
  const unmarked: CodeBlock[] = [];
  const seen = new Set<string>();
  for (const block of blocks) {
    if (!TS_LANGS.has(block.lang)) continue;
    const first = block.code.split('\n', 1)[0]!.trim();
    if (FRAGMENT_COMMENT.test(first)) continue;
    const named = PATH_COMMENT.exec(first);
    if (!named) {
      unmarked.push(block);
      continue;
    }
    const path = named[1]!;
    files.push({ path, label: named[2] ?? '', block, variant: seen.has(path) });
    seen.add(path);
  }
  return { blocks, files, unmarked };
}

/**
 * The package names of the `npm install …` commands in bash blocks and in the given texts (a
 * snippet's first line may say what it needs: `// test/app.e2e-spec.ts (npm install -D supertest)`),
 * without version ranges.
 */
export function installedPackages(blocks: CodeBlock[], texts: string[] = []): string[] {
  const sources = [
    ...blocks.filter((block) => block.lang === 'bash').map((block) => block.code.replace(/\\\n/g, ' ')),
    ...texts,
  ];
  const names: string[] = [];
  for (const source of sources) {
    for (const [, args] of source.matchAll(/\bnpm (?:install|i)\b([^;&|\n)#`]*)/g)) {
      for (const word of args!.trim().split(/\s+/)) {
        if (!word || word.startsWith('-')) continue;
        // '@scope/name@range' or 'name@range'
        const at = word.indexOf('@', 1);
        names.push(at === -1 ? word : word.slice(0, at));
      }
    }
  }
  return names;
}

/**
 * Matches output against an expected text in which `…` stands for any run of characters on a line.
 * Returns the first differing line, or undefined when all match.
 */
export function outputMismatch(actual: string, expected: string): string | undefined {
  const actualLines = actual.trimEnd().split('\n');
  const expectedLines = expected.trimEnd().split('\n');
  const count = Math.max(actualLines.length, expectedLines.length);
  for (let index = 0; index < count; index++) {
    const want = expectedLines[index];
    const got = actualLines[index];
    const pattern =
      want === undefined
        ? undefined
        : new RegExp(
            '^' +
              want
                .split('…')
                .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
                .join('.*') +
              '$',
          );
    if (got === undefined || !pattern?.test(got)) {
      return `line ${index + 1}: expected ${JSON.stringify(want ?? '(nothing)')}, got ${JSON.stringify(got ?? '(nothing)')}`;
    }
  }
  return undefined;
}
