import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { SessionEvents, SessionRevokedEvent } from '../session.events.js';
import type { RevocationEntry, RevocationLogReader } from '../storage/revocation-log.port.js';
import type { SessionClock } from '../tokens/clock.js';
import { createTransport, pause, type RevocationTransport } from './revocation-transport.js';
import type { ResolvedRevocationOptions, RevocationTransportName } from './revocation.options.js';
import { RevocationState, type RevocationProbe, type RevocationVerdict } from './revocation-state.js';

/** Health of the revocation bus, from `SessionEngine.revocationStatus()`. */
export interface RevocationStatus {
  /** The configured transport; `'none'` without the `revocation` option. */
  transport: RevocationTransportName | 'none';
  /** Whether `checkDatabase` is answered from memory now (otherwise: one database read per request). */
  healthy: boolean;
  /** Last heartbeat round trip through the bus (age of the last log read for polling), in ms. */
  lagMs: number;
  /** Highest revocation-log id applied in memory (0 before any). */
  lastPosition: number;
}

/** Timings, in ms. */
export interface RevocationTimings {
  /** How long an entry is remembered: access-token validity plus clock tolerance. */
  lifetime: number;
  /** How long a revoking transaction may stay uncommitted (ids may commit out of order meanwhile). */
  settle: number;
}

const PAGE = 1000;
/** Entries per bus message (a PostgreSQL NOTIFY payload holds at most 8000 bytes). */
const ENTRIES_PER_MESSAGE = 20;
const MAX_UNSENT = 10_000;
/** How far back the log is kept and read, beyond an entry's lifetime: clock offsets between hosts. */
const CLOCK_MARGIN = 60_000;

interface BusMessage {
  from: string;
  entries: RevocationEntry[];
}

/**
 * Keeps this instance's memory of revocations in step with the revocation log: it applies what the
 * bus carries, and replays the log at start, after every (re)connection and every `interval`. While
 * the bus is healthy (its own heartbeat back within `bound`, replayed since it last came up),
 * {@link verdict} answers from memory; otherwise it answers `undefined` and the caller reads the
 * database, so a cut, paused or lagging bus never fails open.
 */
export class RevocationMonitor {
  private readonly logger = new Logger('SessionRevocation');
  private readonly instanceId = randomBytes(6).toString('hex');
  private readonly state: RevocationState;
  private transport: RevocationTransport | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private position = 0;
  /** (time, position) pairs: a replay starts at a position old enough that nothing before it is still uncommitted. */
  private checkpoints: { at: number; position: number }[] = [];
  private connected = false;
  /** Bumped on every connection change: a replay that began before one does not count after it. */
  private connection = 0;
  private replayed = false;
  private replaying: Promise<void> | undefined;
  private lastEchoAt = 0;
  private lagMs = 0;
  private pingSeq = 0;
  private pendingPing: { seq: number; sent: number } | undefined;
  private lastPollAt = 0;
  private reportedHealthy = false;
  private unsent: RevocationEntry[] = [];
  private reloadKeys: () => Promise<void> = async () => undefined;
  private stopped = false;

  constructor(
    private readonly options: ResolvedRevocationOptions,
    private readonly log: RevocationLogReader,
    private readonly events: SessionEvents,
    private readonly clock: SessionClock,
    private readonly timings: RevocationTimings,
  ) {
    this.state = new RevocationState(timings.lifetime);
  }

  /**
   * Starts logging revocations, loads the log of one token lifetime, then connects the bus in the
   * background (until it is healthy, checks read the database).
   * @throws when the log cannot be read at start-up (the database is down).
   */
  async start(reloadKeys: () => Promise<void>): Promise<void> {
    this.reloadKeys = reloadKeys;
    this.log.activate((entries) => this.committed(entries), this.timings.lifetime + CLOCK_MARGIN);
    await this.replay(true);
    const { transport, interval, bound } = this.options;
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(run, ms);
      timer.unref();
      this.timers.push(timer);
    };
    if (transport === 'polling') {
      this.connected = true;
      every(interval, () => void this.replay(false).catch(() => undefined));
      every(Math.min(interval, bound) / 2, () => this.tick());
      return;
    }
    this.transport = await createTransport({
      options: this.options,
      instanceId: this.instanceId,
      database: this.log.connectionSettings(),
    });
    this.transport.start({
      message: (text) => this.received(text),
      echo: (text) => this.echoed(text),
      up: () => {
        this.connection++;
        this.connected = true;
        this.replayed = false; // Messages sent while away may be lost: replay before trusting memory.
      },
      down: () => {
        this.connection++;
        this.connected = false;
        this.replayed = false;
        this.tick();
      },
    });
    every(Math.max(25, bound / 4), () => this.tick());
    every(interval, () => void this.replay(false).catch(() => undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.replaying?.catch(() => undefined);
    await this.transport?.close();
  }

  /**
   * What memory says of a verified token: `'retired-key'` on every route; with `checkDatabase`,
   * `'revoked'`, `'stale'`, `'old-payload'` or `'live'` while the bus is healthy, `undefined` (read the database)
   * while it is not.
   */
  verdict(probe: RevocationProbe, checkDatabase: boolean): RevocationVerdict | undefined {
    const now = this.clock.now();
    if (this.state.isRetiredKey(probe.kid, now)) return 'retired-key';
    if (!checkDatabase) return 'live';
    return this.healthy() ? this.state.verdict(probe, now) : undefined;
  }

  /** The reason of a session this instance knows as revoked, when its revocation kept one. */
  revokedReason(handle: string): string | undefined {
    return this.state.revokedReason(handle, this.clock.now());
  }

  status(): RevocationStatus {
    const polling = this.options.transport === 'polling';
    return {
      transport: this.options.transport,
      healthy: this.healthy(),
      lagMs: polling ? (this.lastPollAt ? Date.now() - this.lastPollAt : 0) : this.lagMs,
      lastPosition: this.position,
    };
  }

  private healthy(): boolean {
    const now = Date.now();
    if (this.options.transport === 'polling') {
      return this.lastPollAt > 0 && now - this.lastPollAt <= this.options.interval + this.options.bound;
    }
    const waiting = this.pendingPing ? now - this.pendingPing.sent : 0;
    return (
      this.connected &&
      this.replayed &&
      now - this.lastEchoAt <= this.options.bound &&
      waiting <= this.options.bound
    );
  }

  /** Heartbeat, retry of unsent messages, checkpoints, and the degraded/restored events. */
  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    this.checkpoints.push({ at: now, position: this.position });
    const settled = this.checkpoints.findLastIndex(
      (checkpoint) => checkpoint.at <= now - this.timings.settle,
    );
    if (settled > 0) this.checkpoints = this.checkpoints.slice(settled);
    if (this.transport && this.connected && this.pendingPing === undefined) {
      this.pendingPing = { seq: ++this.pingSeq, sent: now };
      this.transport.ping(JSON.stringify(this.pendingPing)).catch(() => undefined);
    } else if (this.pendingPing && now - this.pendingPing.sent > this.options.bound * 4) {
      this.pendingPing = undefined; // Lost: send another (health already counts it late).
    }
    if (this.unsent.length > 0 && this.connected) this.flush();
    this.report();
  }

  private report(): void {
    const healthy = this.healthy();
    if (healthy === this.reportedHealthy) return;
    this.reportedHealthy = healthy;
    const detail = { transport: this.options.transport, lastPosition: this.position };
    if (healthy) {
      this.logger.log(`Revocation bus (${this.options.transport}) healthy: checks answered from memory.`);
      this.events.publish('revocation.restored', detail);
    } else {
      this.logger.warn(
        `Revocation bus (${this.options.transport}) down or late: checks read the database until it recovers.`,
      );
      this.events.publish('revocation.degraded', detail);
    }
  }

  private echoed(text: string): void {
    const echo = JSON.parse(text) as { seq: number; sent: number };
    if (this.pendingPing?.seq !== echo.seq) return;
    const now = Date.now();
    this.pendingPing = undefined;
    this.lagMs = now - echo.sent;
    if (this.lagMs > this.options.bound) return; // Late: the bus is lagging; not proof of health.
    this.lastEchoAt = now;
    if (!this.replayed && this.replaying === undefined) {
      // The subscription works again: catch up from the log, then trust memory.
      const connection = this.connection;
      const replay = this.replay(false);
      replay.then(
        () => {
          if (this.connected && this.connection === connection) this.replayed = true;
          this.report();
        },
        () => undefined,
      );
    }
    this.report();
  }

  /** Reads the log from the last settled position (or one token lifetime back, at start). */
  private replay(initial: boolean): Promise<void> {
    this.replaying ??= this.readLog(initial).finally(() => (this.replaying = undefined));
    return this.replaying;
  }

  private async readLog(initial: boolean): Promise<void> {
    const startedAt = Date.now();
    // From a position old enough that every revocation below it has committed; until one exists
    // (just after start), the whole window again.
    const settled = this.checkpoints[0];
    let after = !initial && settled && settled.at <= startedAt - this.timings.settle ? settled.position : 0;
    const since = this.clock.now() - this.timings.lifetime - CLOCK_MARGIN;
    for (;;) {
      // Bounded: a hung database must not hold every later replay (the bus stays unhealthy meanwhile).
      const entries = await Promise.race([
        this.log.read(after, since, PAGE),
        pause(this.timings.settle).then(() => Promise.reject(new Error('revocation log read timed out'))),
      ]);
      for (const entry of entries) this.remember(entry, !initial);
      if (entries.length < PAGE) break;
      after = entries.at(-1)!.id!;
    }
    this.lastPollAt = startedAt;
  }

  /** Applies an entry; one new to this instance is announced (another instance revoked it). */
  private remember(entry: RevocationEntry, announce: boolean): void {
    const now = this.clock.now();
    const known = this.state.verdict(
      {
        handle: entry.subject,
        kid: entry.subject,
        generation: Number.MAX_SAFE_INTEGER,
        payloadVersion: Number.MAX_SAFE_INTEGER,
      },
      now,
    );
    const isNew =
      (entry.kind === 'session' && known !== 'revoked' && known !== 'retired-key') ||
      (entry.kind === 'key' && !this.state.isRetiredKey(entry.subject, now)) ||
      entry.kind === 'generation' ||
      entry.kind === 'payload-version';
    this.state.apply(entry, now);
    if (entry.id !== undefined) this.position = Math.max(this.position, entry.id);
    if (!announce || !isNew) return;
    if (entry.kind === 'key') void this.reloadKeys().catch(() => undefined);
    if (entry.kind === 'session') {
      const operation = entry.cause as SessionRevokedEvent['operation'];
      this.events.publish('session.revoked', {
        reason: entry.reason ?? operation,
        operation,
        sessionHandle: entry.subject,
        count: 1,
        remote: true,
      });
    }
  }

  /** A revocation committed here: remembered at once, then published. */
  private committed(entries: RevocationEntry[]): void {
    for (const entry of entries) this.remember(entry, false);
    if (this.options.transport === 'polling') return; // The others read the log.
    this.unsent.push(...entries);
    if (this.unsent.length > MAX_UNSENT) this.unsent.splice(0, this.unsent.length - MAX_UNSENT);
    this.flush();
  }

  private flush(): void {
    if (!this.transport) return;
    const batch = this.unsent.splice(0, this.unsent.length);
    for (let index = 0; index < batch.length; index += ENTRIES_PER_MESSAGE) {
      const entries = batch.slice(index, index + ENTRIES_PER_MESSAGE);
      const message: BusMessage = { from: this.instanceId, entries };
      // Bounded: a paused broker must not hold the publisher; the others replay the log anyway.
      Promise.race([
        this.transport.publish(JSON.stringify(message)),
        pause(this.options.bound).then(() => Promise.reject(new Error('timeout'))),
      ]).catch(() => this.unsent.push(...entries));
    }
  }

  private received(text: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(text) as BusMessage;
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object' || !Array.isArray(message.entries)) return;
    // Whoever reaches the broker can publish here: only well-formed entries are applied.
    for (const entry of message.entries as unknown[]) {
      // Its log position is not taken from the bus: a forged one would make replays skip the log.
      if (isBusEntry(entry)) this.remember({ ...entry, id: undefined }, message.from !== this.instanceId);
    }
  }
}

/** An entry as an instance publishes it: a string subject, a whole non-negative value or none. */
function isBusEntry(entry: unknown): entry is RevocationEntry {
  if (entry === null || typeof entry !== 'object') return false;
  const { kind, subject, value, reason, cause, id } = entry as Record<string, unknown>;
  return (
    typeof kind === 'string' &&
    typeof subject === 'string' &&
    subject !== '' &&
    (value === undefined || value === null || (Number.isSafeInteger(value) && (value as number) >= 0)) &&
    (reason === undefined || reason === null || typeof reason === 'string') &&
    (cause === undefined || typeof cause === 'string') &&
    (id === undefined || id === null || typeof id === 'number')
  );
}
