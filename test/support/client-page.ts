import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The browser client and the wire contract it imports, transpiled to ES modules, keyed by their
 * place in the package's layout: `/client/session-client.js`, `/http/wire.js`.
 */
export const CLIENT_MODULES: ReadonlyMap<string, string> = new Map(
  ['client/session-client', 'http/wire'].map((file) => [
    `/${file}.js`,
    ts.transpileModule(readFileSync(join(ROOT, 'lib', `${file}.ts`), 'utf8'), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    }).outputText,
  ]),
);

/** The client module a page requests at `path` when the modules are served under `prefix`. */
export function clientModule(path: string, prefix = ''): string | undefined {
  return path.startsWith(prefix) ? CLIENT_MODULES.get(path.slice(prefix.length)) : undefined;
}

/** Answers a request for one of the client modules; false (nothing sent) for any other path. */
export function serveClientModule(path: string, response: ServerResponse): boolean {
  const body = clientModule(path);
  if (body === undefined) return false;
  response.writeHead(200, { 'content-type': 'text/javascript' }).end(body);
  return true;
}
