import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SessionAuditEvent } from '../interfaces/observability-options.interface.js';
import { auditEventOf, SessionAuditTrail } from './session-audit.js';
import { SessionTelemetry } from './session-telemetry.js';

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[\s\S]*?\s+from\s+)?'([^']+)';/gm;

function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return libFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The files `entry` reaches through run-time (non-type) relative imports. */
function reachedFrom(entry: string): Set<string> {
  const reached = new Set<string>();
  const visit = (path: string) => {
    if (reached.has(path)) return;
    reached.add(path);
    for (const [, typeOnly, specifier] of readFileSync(path, 'utf8').matchAll(IMPORT)) {
      if (typeOnly || !specifier.startsWith('.')) continue;
      visit(resolve(dirname(path), specifier).replace(/\.js$/, '.ts'));
    }
  };
  visit(entry);
  return reached;
}

describe('optional integrations stay optional', () => {
  const runtimeImports = libFiles().flatMap((path) =>
    [...readFileSync(path, 'utf8').matchAll(IMPORT)]
      .filter(([, typeOnly]) => !typeOnly)
      .map(([, , specifier]) => ({ file: relative(LIB, path), specifier })),
  );

  it('imports @opentelemetry/api only as types (and lazily, by a dynamic import)', () => {
    expect(runtimeImports.filter(({ specifier }) => specifier.startsWith('@opentelemetry/'))).toEqual([]);
    const dynamic = libFiles().filter((path) =>
      readFileSync(path, 'utf8').includes("import('@opentelemetry/api')"),
    );
    expect(dynamic.map((path) => relative(LIB, path))).toEqual(['observability/session-telemetry.ts']);
  });

  it('imports @nestjs/terminus only behind the nestjs-token-session/terminus entry', () => {
    const terminus = runtimeImports.filter(({ specifier }) => specifier === '@nestjs/terminus');
    expect(terminus.map(({ file }) => file)).toEqual(['observability/session-health.indicator.ts']);
    const main = [...reachedFrom(join(LIB, 'index.ts'))].map((path) => relative(LIB, path));
    expect(main).toContain('observability/session-observability.ts');
    expect(main).not.toContain('observability/session-health.indicator.ts');
    const manifest = JSON.parse(readFileSync(join(LIB, '..', 'package.json'), 'utf8'));
    expect(manifest.exports['./terminus'].default).toBe('./dist/observability/terminus.js');
  });
});

describe('SessionTelemetry', () => {
  it('turned off, runs operations as they are and adds no attributes', async () => {
    const telemetry = await SessionTelemetry.load('s'.repeat(40), { enabled: false });
    expect(telemetry).toBe(SessionTelemetry.off);
    expect(telemetry.enabled).toBe(false);
    expect(await telemetry.trace('refresh', {}, async () => 42)).toBe(42);
    expect(telemetry.subjectAttributes('handle', 'user')).toEqual({});
    const error = new Error('kept');
    expect(telemetry.failed('verify', error)).toBe(error);
  });

  it('names handles and users by keyed hashes that differ per secret and per kind', async () => {
    const one = await SessionTelemetry.load('a-secret-0123456789-abcdefghijklmnopqrstuvwxyz', {
      hashUserIds: true,
    });
    const two = await SessionTelemetry.load('another-secret-0123456789-abcdefghijklmnopqrstu', {
      hashUserIds: true,
    });
    expect(one.pseudonym('handle', 'x')).toMatch(/^[0-9a-f]{32}$/);
    expect(one.pseudonym('handle', 'x')).toBe(one.pseudonym('handle', 'x'));
    expect(one.pseudonym('handle', 'x')).not.toBe(two.pseudonym('handle', 'x'));
    expect(one.pseudonym('handle', 'x')).not.toBe(one.pseudonym('user', 'x'));
    expect(one.subjectAttributes('h', 42)).toEqual({
      'session.handle.hash': one.pseudonym('handle', 'h'),
      'enduser.pseudo.id': one.pseudonym('user', '42'),
    });
    const withoutUsers = await SessionTelemetry.load('a-secret-0123456789-abcdefghijklmnopqrstuvwxyz');
    expect(Object.keys(withoutUsers.subjectAttributes('h', 42))).toEqual(['session.handle.hash']);
  });
});

describe('auditEventOf', () => {
  const request = { ip: '203.0.113.9', userAgent: 'Agent/1', adapter: 'express' as const };

  it('takes IP and user agent from the request, the rest from the event', () => {
    expect(
      auditEventOf('session.refreshed', { sessionHandle: 'h', userId: 7, replay: true }, 1000, request),
    ).toEqual({
      type: 'session.refreshed',
      time: 1000,
      sessionHandle: 'h',
      userId: '7',
      ip: '203.0.113.9',
      userAgent: 'Agent/1',
      details: { replay: true },
    });
  });

  it("lets an event's own ip, user agent, actor and reason win, and reads an RFC 8693 actor", () => {
    const event = auditEventOf(
      'session.impersonation-started',
      { userId: 'u', ip: '198.51.100.1', userAgent: 'Admin/2', actor: { sub: 'admin-1' }, reason: 'support' },
      5,
      request,
    );
    expect(event).toMatchObject({
      ip: '198.51.100.1',
      userAgent: 'Admin/2',
      actor: 'admin-1',
      reason: 'support',
    });
    expect(event.details).toEqual({});
  });

  it("records a failed login's error as its reason", () => {
    const event = auditEventOf(
      'login.attempt',
      { success: false, strategy: 'password', error: 'invalid-credentials' },
      1,
      undefined,
    );
    expect(event).toEqual({
      type: 'login.attempt',
      time: 1,
      reason: 'invalid-credentials',
      details: { success: false, strategy: 'password' },
    });
  });
});

describe('SessionAuditTrail', () => {
  const event = (n: number): SessionAuditEvent => ({ type: 'session.created', time: n, details: {} });
  const quiet = { warn: () => undefined };

  it('writes queued events in batches, in order, off the caller', async () => {
    const batches: number[][] = [];
    const trail = new SessionAuditTrail(
      { write: (events) => void batches.push(events.map((e) => e.time)) },
      { batchSize: 2 },
      quiet,
    );
    for (let n = 1; n <= 5; n++) trail.record(event(n));
    expect(batches).toEqual([]); // nothing ran inside record()
    await trail.flush();
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(trail.dropped).toBe(0);
  });

  it('drops (and counts) events beyond the queue bound and batches whose write throws, reporting once', async () => {
    const warnings: string[] = [];
    const dropped: number[] = [];
    const trail = new SessionAuditTrail(
      {
        write: () => {
          throw new Error('down');
        },
      },
      { queueSize: 3, batchSize: 10 },
      { warn: (message) => warnings.push(message) },
      (count) => dropped.push(count),
    );
    for (let n = 1; n <= 5; n++) trail.record(event(n));
    expect(trail.pending).toBe(3);
    await trail.flush();
    expect(trail.dropped).toBe(5);
    expect(dropped).toEqual([1, 1, 3]);
    expect(warnings).toEqual([expect.stringMatching(/queue is full \(3 events\)/)]);
  });
});
