import { setTimeout as sleep } from 'node:timers/promises';
import { CookieJar } from '../../support/cookies.js';
import { asSupertest, type HttpAnswer, type HttpClient, type RequestOptions } from './http-client.js';
import { ANTI_CSRF_HEADER, REFRESH_TOKEN_COOKIE } from '../../../lib/http/wire.js';

/** How one soak runs. */
export interface SoakProfile {
  seconds: number;
  users: number;
  /** Stop starting requests after this many, whatever the time. */
  maxRequests: number;
  /** A user's pause between two actions, at most (random from a third of it up). */
  thinkMs: number;
  /** Refresh grace period of the app, in seconds: stale tabs stay well inside it. */
  gracePeriod: number;
}

/** What the soak counts. */
export interface SoakCounts {
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  serverErrors: number;
  networkErrors: number;
  /** Theft answers to a user who never reused an old token. */
  falseTheftDetections: number;
  /** A live session refused (`UNAUTHORISED`) or its data gone. */
  lostSessions: number;
  /** A signed-out session accepted again. */
  resurrectedSessions: number;
  /** Concurrent tabs that ended on different refresh tokens. */
  forkedRefreshes: number;
  /** `TRY_REFRESH_TOKEN` on a request carrying the live tokens (none should). */
  unexpectedTryRefresh: number;
  logins: number;
  signOuts: number;
  refreshRequests: number;
  /** Refreshes sent by several tabs at once (each counts once). */
  tabRaces: number;
  /** Late tabs that sent the token of two generations back, after the rotations. */
  staleTabs: number;
  /** Samples of what went wrong, for the report (at most 20). */
  problems: string[];
  latencies: number[];
  latenciesByRoute: Record<string, number[]>;
}

export function emptyCounts(): SoakCounts {
  return {
    requests: 0,
    byRoute: {},
    byStatus: {},
    serverErrors: 0,
    networkErrors: 0,
    falseTheftDetections: 0,
    lostSessions: 0,
    resurrectedSessions: 0,
    forkedRefreshes: 0,
    unexpectedTryRefresh: 0,
    logins: 0,
    signOuts: 0,
    refreshRequests: 0,
    tabRaces: 0,
    staleTabs: 0,
    problems: [],
    latencies: [],
    latenciesByRoute: {},
  };
}

/** One browser session: a cookie jar shared by its tabs, and the anti-csrf token the page keeps. */
export interface BrowserSession {
  handle: string;
  userId: string;
  jar: CookieJar;
  antiCsrf: string;
  /** The refresh token of the generation before, and when it was rotated away. */
  previousRefresh?: { token: string; rotatedAt: number };
  data: number;
}

/** Simulated users hammering one app like browsers with several tabs. */
export class SoakRun {
  readonly counts = emptyCounts();
  /** Sessions that should be alive (handle → session). */
  readonly live = new Map<string, BrowserSession>();
  readonly signedOut = new Set<string>();
  private readonly deadline: number;

  constructor(
    private readonly client: HttpClient,
    private readonly profile: SoakProfile,
  ) {
    this.deadline = Date.now() + profile.seconds * 1000;
  }

  private get running(): boolean {
    return Date.now() < this.deadline && this.counts.requests < this.profile.maxRequests;
  }

  /** Runs every user until the time or the request budget is spent. */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.profile.users }, (_, index) => this.user(index)));
  }

  private note(problem: string): void {
    if (this.counts.problems.length < 20) this.counts.problems.push(problem);
  }

  /** Sends one request and counts it; network failures count and yield `undefined`. */
  private async send(
    route: string,
    method: 'GET' | 'POST',
    path: string,
    options: RequestOptions,
  ): Promise<HttpAnswer | undefined> {
    const counts = this.counts;
    counts.requests++;
    counts.byRoute[route] = (counts.byRoute[route] ?? 0) + 1;
    try {
      const answer = await this.client.request(method, path, { ...options, store: false });
      counts.byStatus[answer.status] = (counts.byStatus[answer.status] ?? 0) + 1;
      counts.latencies.push(answer.elapsed);
      (counts.latenciesByRoute[route] ??= []).push(answer.elapsed);
      if (answer.status >= 500) {
        counts.serverErrors++;
        this.note(`${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      if (answer.body?.type === 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED') {
        counts.falseTheftDetections++;
        this.note(`${route}: false theft detection`);
      }
      return answer;
    } catch (error) {
      counts.networkErrors++;
      this.note(`${route}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Takes the tokens of a create or refresh answer, cookies and anti-csrf in the same tick. */
  private adopt(session: BrowserSession, answer: HttpAnswer): void {
    session.jar.store(asSupertest(answer));
    const antiCsrf = answer.headers[ANTI_CSRF_HEADER];
    if (typeof antiCsrf === 'string') session.antiCsrf = antiCsrf;
  }

  /**
   * Judges an answer on a session that should be alive: true when the session is still usable.
   * Anything but `expected` counts as a lost session (or, for `TRY_REFRESH_TOKEN`, as unexpected).
   */
  private alive(
    session: BrowserSession,
    route: string,
    answer: HttpAnswer | undefined,
    expected: number,
  ): boolean {
    if (!answer || answer.status >= 500) return true; // counted already; the session may be fine
    if (answer.status === expected) return true;
    if (answer.body?.type === 'TRY_REFRESH_TOKEN') {
      this.counts.unexpectedTryRefresh++;
      this.note(`${route}: TRY_REFRESH_TOKEN on live tokens (${answer.body?.message})`);
      return true;
    }
    this.counts.lostSessions++;
    this.note(`${route}: live session refused: ${answer.status} ${JSON.stringify(answer.body)}`);
    this.live.delete(session.handle);
    return false;
  }

  private async user(index: number): Promise<void> {
    const userId = `soak-user-${index}`;
    // Users start spread over the first second, as real traffic does.
    await sleep(Math.random() * Math.min(1000, this.profile.thinkMs * 3));
    while (this.running) {
      const session = await this.login(userId);
      if (!session) {
        await this.think();
        continue;
      }
      const steps = 3 + Math.floor(Math.random() * 8);
      let usable = true;
      for (let step = 0; step < steps && usable && this.running; step++) {
        await this.think();
        usable = await this.act(session);
      }
      if (usable && Math.random() < 0.7) await this.signOut(session);
      await this.think();
    }
  }

  private think(): Promise<void> {
    const { thinkMs } = this.profile;
    return sleep(thinkMs / 3 + (Math.random() * (thinkMs * 2)) / 3);
  }

  private async login(userId: string): Promise<BrowserSession | undefined> {
    const answer = await this.send('POST /login', 'POST', '/login', {
      body: { userId, data: { counter: 0 } },
    });
    if (answer?.status !== 200) return undefined;
    const session: BrowserSession = {
      handle: String(answer.body?.handle),
      userId,
      jar: new CookieJar(),
      antiCsrf: '',
      data: 0,
    };
    this.adopt(session, answer);
    this.live.set(session.handle, session);
    this.counts.logins++;
    return session;
  }

  /** One user action; false when the session was lost. */
  private async act(session: BrowserSession): Promise<boolean> {
    const roll = Math.random();
    const jar = session.jar;
    if (roll < 0.3) {
      const answer = await this.send('GET /me', 'GET', '/me', { jar });
      if (!this.alive(session, 'GET /me', answer, 200)) return false;
      if (answer?.status === 200 && (answer.body?.data as { counter?: number })?.counter !== session.data) {
        this.counts.lostSessions++;
        this.note(
          `GET /me: session data ${JSON.stringify(answer.body?.data)}, expected counter ${session.data}`,
        );
      }
      return true;
    }
    if (roll < 0.5) {
      const answer = await this.send('POST /notes', 'POST', '/notes', {
        jar,
        headers: { [ANTI_CSRF_HEADER]: session.antiCsrf },
      });
      return this.alive(session, 'POST /notes', answer, 201);
    }
    if (roll < 0.62) {
      const answer = await this.send('GET /strict', 'GET', '/strict', { jar });
      return this.alive(session, 'GET /strict', answer, 200);
    }
    if (roll < 0.7) {
      const next = session.data + 1;
      const answer = await this.send('POST /data', 'POST', '/data', {
        jar,
        headers: { [ANTI_CSRF_HEADER]: session.antiCsrf },
        body: { data: { counter: next } },
      });
      if (answer?.status === 200) session.data = next;
      return this.alive(session, 'POST /data', answer, 200);
    }
    return this.refreshFromTabs(session);
  }

  /**
   * Several tabs notice an expired access token at once and all call refresh with the same
   * cookies, while a guarded call runs alongside; answers are stored in the order they arrive, as
   * a browser does. Sometimes a slow tab's request, sent before the previous rotation, lands only
   * now, after two rotations: it must get the live token too.
   */
  private async refreshFromTabs(session: BrowserSession): Promise<boolean> {
    const tabs = 2 + Math.floor(Math.random() * 3);
    const current = session.jar.get(REFRESH_TOKEN_COOKIE)!;
    const previous = session.previousRefresh;
    const started = Date.now();
    this.counts.tabRaces++;
    const successors = new Set<string>();
    let usable = true;
    const refreshOne = async (token: string): Promise<string | undefined> => {
      this.counts.refreshRequests++;
      const jar = session.jar.without().set(REFRESH_TOKEN_COOKIE, token);
      const answer = await this.send('POST /session/refresh', 'POST', '/session/refresh', { jar });
      if (answer?.status === 200) {
        this.adopt(session, answer);
        return new CookieJar().store(asSupertest(answer)).get(REFRESH_TOKEN_COOKIE);
      }
      if (!this.alive(session, 'POST /session/refresh', answer, 200)) usable = false;
      return undefined;
    };
    await Promise.all([
      ...Array.from({ length: tabs }, () =>
        refreshOne(current).then((successor) => successor && successors.add(successor)),
      ),
      this.send('GET /me (during refresh)', 'GET', '/me', { jar: session.jar.without() }).then((answer) => {
        if (!this.alive(session, 'GET /me (during refresh)', answer, 200)) usable = false;
      }),
    ]);
    if (successors.size > 1) {
      this.counts.forkedRefreshes++;
      this.note(`refresh from ${tabs} tabs forked into ${successors.size} tokens`);
    }
    const [live] = successors;
    if (!usable || successors.size !== 1 || live === current) return usable;
    if (previous && Date.now() - previous.rotatedAt < (this.profile.gracePeriod * 1000) / 3) {
      this.counts.staleTabs++;
      const late = await refreshOne(previous.token);
      if (late !== undefined && late !== live) {
        this.counts.forkedRefreshes++;
        this.note('a late tab got a token other than the live one');
      }
    }
    session.previousRefresh = { token: current, rotatedAt: started };
    return usable;
  }

  private async signOut(session: BrowserSession): Promise<void> {
    const answer = await this.send('POST /logout', 'POST', '/logout', {
      jar: session.jar,
      headers: { [ANTI_CSRF_HEADER]: session.antiCsrf },
    });
    if (!this.alive(session, 'POST /logout', answer, 200) || answer?.status !== 200) return;
    this.live.delete(session.handle);
    this.signedOut.add(session.handle);
    this.counts.signOuts++;
    // The old cookies, replayed (a copy kept by another tab, or a stolen one), must stay dead.
    const strict = await this.send('GET /strict (signed out)', 'GET', '/strict', { jar: session.jar });
    const refresh = await this.send('POST /session/refresh (signed out)', 'POST', '/session/refresh', {
      jar: session.jar,
    });
    for (const probe of [strict, refresh]) {
      if (probe && probe.status < 300) {
        this.counts.resurrectedSessions++;
        this.note(`signed-out session ${session.handle} accepted again`);
      }
    }
  }

  /** After the run: every session that should be alive still works (checked a few at a time). */
  async verifyLive(concurrency = 16): Promise<void> {
    const sessions = [...this.live.values()];
    const worker = async () => {
      for (let session = sessions.pop(); session; session = sessions.pop()) {
        const strict = await this.send('GET /strict (final)', 'GET', '/strict', { jar: session.jar });
        this.alive(session, 'GET /strict (final)', strict, 200);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
}

/** The p-th percentile of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
