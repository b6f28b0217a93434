import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ACCESS_TOKEN_SECONDS = 3;
/** Waits for what the page shows; generous, as the machine may be busy (no speed is asserted). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

const canRun = chromiumAvailable();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts the compiled sample as `npm run sample` does, on a fresh SQLite data folder. */
async function startSample(port: number, dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'dist-sample', 'sample', 'main.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      SAMPLE_DATA_DIR: dataDir,
      ACCESS_TOKEN_VALIDITY: String(ACCESS_TOKEN_SECONDS),
      RATE_LIMIT: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (output.includes('listening on')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the sample exited (${code}):\n${output}`)));
  });
  return child;
}

describe.runIf(canRun)('the sample page in headless Chromium', () => {
  let sample: ChildProcess;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;
  const refreshes: string[] = [];
  const contexts: BrowserContext[] = [];
  /** What a person would notice as broken: uncaught errors, console errors, missing files. */
  const problems: string[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(ROOT, 'sample', 'tsconfig.json'),
    ]);
    dataDir = mkdtempSync(join(tmpdir(), 'nts-sample-'));
    const port = await freePort();
    sample = await startSample(port, dataDir);
    baseUrl = `http://localhost:${port}`;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    sample?.kill();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    // Closed pages make no background checks that a later test would count.
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    expect(problems.splice(0)).toEqual([]);
  });

  async function device(userAgent?: string): Promise<BrowserContext> {
    const context = await browser.newContext({ userAgent });
    contexts.push(context);
    context.on('request', (request) => {
      if (request.url().endsWith('/session/refresh')) refreshes.push(request.url());
    });
    context.on('page', (page) => {
      page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
      page.on('console', (message) => {
        // Chromium logs every 401 response; a 401 is how the server asks for a refresh or says
        // the session ended, which the page handles.
        if (message.type() === 'error' && !message.text().includes('status of 401')) {
          problems.push(`console: ${message.text()}`);
        }
      });
      page.on('response', (response) => {
        if (response.status() === 404) problems.push(`404: ${response.url()}`);
      });
    });
    return context;
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto(baseUrl);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.locator('#who').textContent()).toBe('demo');
  }

  async function addNote(page: Page, text: string): Promise<void> {
    await page.fill('#note-form input[name=text]', text);
    await page.click('#note-form button');
    await poll(() => page.locator('#notes li').allTextContents()).toContain(text);
  }

  it('logs in, adds notes, and refreshes transparently after the access token expires', async () => {
    const page = await (await device()).newPage();
    await signIn(page);
    await addNote(page, 'first note');
    const screenshot = join(dataDir, 'signed-in.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(5_000);

    const before = refreshes.length;
    await page.waitForTimeout((ACCESS_TOKEN_SECONDS + 1) * 1000);
    await addNote(page, 'after expiry');
    expect(refreshes.length).toBe(before + 1);
    await poll(() => page.locator('#status').textContent()).toMatch(/^Signed in/);
  });

  it('keeps two tabs signed in when both hit an expired token at once, with one refresh', async () => {
    const context = await device();
    const first = await context.newPage();
    await signIn(first);
    const second = await context.newPage();
    await second.goto(baseUrl);
    await poll(() => second.locator('#who').textContent()).toBe('demo');

    const before = refreshes.length;
    await first.waitForTimeout((ACCESS_TOKEN_SECONDS + 1) * 1000);
    const post = (page: Page, text: string) =>
      page.evaluate(
        async (body) =>
          (
            await (globalThis as unknown as { sessionClient: { fetch: typeof fetch } }).sessionClient.fetch(
              '/notes',
              {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body,
              },
            )
          ).status,
        JSON.stringify({ text }),
      );
    const statuses = await Promise.all([
      post(first, 'tab one'),
      post(second, 'tab two'),
      post(first, 'tab one again'),
    ]);
    expect(statuses).toEqual([201, 201, 201]);
    expect(refreshes.length - before).toBe(1);
    for (const page of [first, second]) {
      await page.evaluate(() =>
        (globalThis as unknown as { refreshView: () => Promise<void> }).refreshView(),
      );
      await poll(() => page.locator('#status').textContent()).toMatch(/^Signed in/);
    }
  });

  it('signs a device out when another device revokes its session', async () => {
    const laptop = await (await device()).newPage();
    const phone = await (await device()).newPage();
    await signIn(laptop);
    await signIn(phone);
    const phoneHandle = await phone.evaluate(async () => {
      const client = (globalThis as unknown as { sessionClient: { fetch: typeof fetch } }).sessionClient;
      return ((await (await client.fetch('/me')).json()) as { sessionHandle: string }).sessionHandle;
    });
    await laptop.evaluate(() =>
      (globalThis as unknown as { refreshView: () => Promise<void> }).refreshView(),
    );
    laptop.once('dialog', (dialog) => void dialog.accept());
    await laptop.locator(`tr[data-handle="${phoneHandle}"] button.revoke`).click();
    await poll(() => laptop.locator(`tr[data-handle="${phoneHandle}"]`).count()).toBe(0);

    await phone.evaluate(() => (globalThis as unknown as { refreshView: () => Promise<void> }).refreshView());
    await poll(() => phone.locator('#status').textContent()).toBe('You are signed out.');
    await poll(() => phone.locator('#signed-out').isVisible()).toBe(true);
    await poll(() => laptop.locator('#status').textContent()).toMatch(/^Signed in/);
  });

  it('shows the browser, OS, network and last activity of each device, and marks this one', async () => {
    const laptop = await (
      await device('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0')
    ).newPage();
    const phone = await (
      await device(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      )
    ).newPage();
    await signIn(phone);
    await signIn(laptop);
    const [phoneHandle, laptopHandle] = [await handleOf(phone), await handleOf(laptop)];
    await laptop.evaluate(refreshView);
    const row = (handle: string) => laptop.locator(`tr[data-handle="${handle}"]`);
    await poll(() => row(phoneHandle).locator('td.browser').textContent()).toBe('Safari 17');
    expect(await row(phoneHandle).locator('td.os').textContent()).toBe('iOS 17.5');
    // The sample trusts no proxy: the network is the loopback's, its last part hidden.
    expect(await row(phoneHandle).locator('td.network').textContent()).toBe('127.0.0.0');
    expect(await row(phoneHandle).locator('td').nth(2).textContent()).toMatch(/\(.+\)$/);
    expect(await row(laptopHandle).locator('td').first().textContent()).toMatch(/^This device/);
    expect(await row(laptopHandle).locator('td.browser').textContent()).toBe('Firefox 133');
    expect(await row(laptopHandle).locator('td.os').textContent()).toBe('Linux');
    expect(await row(laptopHandle).locator('button.revoke').count()).toBe(0);
    await laptop.screenshot({ path: '/tmp/sample-devices.png', fullPage: true });

    const asked: string[] = [];
    laptop.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await row(phoneHandle).locator('button.revoke').click();
    await poll(() => asked).toEqual([expect.stringMatching(/from Safari 17 on iOS 17\.5\?/)]);
    expect(await row(phoneHandle).count()).toBe(1);
  });

  it('signs out from the page', async () => {
    const page = await (await device()).newPage();
    await signIn(page);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await poll(() => page.locator('#status').textContent()).toBe('You are signed out.');
    const cookies = await page.context().cookies();
    expect(cookies.filter((cookie) => cookie.name.startsWith('s'))).toEqual([]);
  });

  const refreshView = () => (globalThis as unknown as { refreshView: () => Promise<void> }).refreshView();
  const handleOf = (page: Page) =>
    page.evaluate(async () => {
      const client = (globalThis as unknown as { sessionClient: { fetch: typeof fetch } }).sessionClient;
      return ((await (await client.fetch('/me')).json()) as { sessionHandle: string }).sessionHandle;
    });
  // What the page says for the revocation reason the server tells the revoked device.
  const REVOKED = 'This session was signed out from another device.';
  const OTHERS_REVOKED = 'This session was signed out from another device ("sign out everywhere else").';

  it('tells a revoked device why it was signed out, and keeps the note it was typing', async () => {
    const laptop = await (await device()).newPage();
    const phone = await (await device()).newPage();
    await signIn(laptop);
    await signIn(phone);
    await phone.fill('#note-form input[name=text]', 'half-written thought');
    const phoneHandle = await handleOf(phone);
    const laptopHandle = await handleOf(laptop);
    await laptop.evaluate(refreshView);
    await expect
      .poll(() => laptop.locator(`tr[data-handle="${laptopHandle}"] td`).first().textContent())
      .toMatch(/^This device/);
    const phoneRow = laptop.locator(`tr[data-handle="${phoneHandle}"]`);
    expect(await phoneRow.locator('td').first().textContent()).toMatch(/^Another device/);
    for (const text of (await phoneRow.locator('td').allTextContents()).slice(1, 4))
      expect(text).toMatch(/\(.+\)$/);
    await laptop.screenshot({ path: '/tmp/sample-sessions.png', fullPage: true });

    const asked: string[] = [];
    laptop.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.accept();
    });
    await phoneRow.locator('button.revoke').click();
    await poll(() => laptop.locator('#sessions-message').textContent()).toBe('Session revoked.');
    expect(asked).toEqual([expect.stringMatching(/^Sign out the session that signed in /)]);

    await phone.click('#note-form button');
    await poll(() => phone.locator('#signed-out-reason').textContent()).toBe(REVOKED);
    expect(await phone.locator('#signed-out-reason').isVisible()).toBe(true);
    expect(await phone.locator('#draft-kept').isVisible()).toBe(true);
    expect(await phone.locator('#status').textContent()).toBe('You are signed out.');
    await phone.screenshot({ path: '/tmp/sample-revoked.png', fullPage: true });

    await signIn(phone); // a fresh load of the page: the draft comes back from this tab's storage
    expect(await phone.inputValue('#note-form input[name=text]')).toBe('half-written thought');
    expect(await phone.locator('#signed-out-reason').isVisible()).toBe(false);
    await phone.click('#note-form button');
    await poll(() => phone.locator('#notes li').allTextContents()).toContain('half-written thought');
    expect(await phone.inputValue('#note-form input[name=text]')).toBe('');
  });

  it('notices a revocation while the page is only left open', async () => {
    const laptop = await (await device()).newPage();
    const phoneContext = await device();
    await phoneContext.clock.install();
    const phone = await phoneContext.newPage();
    await signIn(phone);
    await signIn(laptop);
    laptop.once('dialog', (dialog) => void dialog.accept());
    await laptop.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await expect
      .poll(() => laptop.locator('#sessions-message').textContent())
      .toMatch(/^Signed out \d+ other sessions?\.$/);

    await phone.clock.runFor(31_000);
    await poll(() => phone.locator('#signed-out-reason').textContent()).toBe(OTHERS_REVOKED);
    await poll(() => laptop.locator('#status').textContent()).toMatch(/^Signed in/);
  });

  it('signs the other tabs out with the one that signs out', async () => {
    const context = await device();
    const first = await context.newPage();
    await signIn(first);
    const second = await context.newPage();
    await second.goto(baseUrl);
    await poll(() => second.locator('#who').textContent()).toBe('demo');
    await first.getByRole('button', { name: 'Sign out', exact: true }).click();
    await poll(() => second.locator('#signed-out').isVisible()).toBe(true);
    expect(await second.locator('#signed-out-reason').textContent()).toMatch(/^Your session has ended/);
  });

  it('asks before revoking, and keeps the sessions when the answer is no', async () => {
    const laptop = await (await device()).newPage();
    const phone = await (await device()).newPage();
    await signIn(phone);
    await signIn(laptop);
    const phoneHandle = await handleOf(phone);
    laptop.on('dialog', (dialog) => void dialog.dismiss());
    await laptop.locator(`tr[data-handle="${phoneHandle}"] button.revoke`).click();
    await laptop.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await phone.evaluate(refreshView);
    await poll(() => phone.locator('#status').textContent()).toMatch(/^Signed in/);
    expect(await laptop.locator(`tr[data-handle="${phoneHandle}"]`).count()).toBe(1);
    expect(await laptop.locator('#sessions-message').textContent()).toBe('');
  });

  it('keeps the cookies to the browser session when "Remember me" is unticked, and refreshes them so', async () => {
    const sessionCookies = async (context: BrowserContext) =>
      (await context.cookies())
        .filter((cookie) => cookie.name.startsWith('s'))
        .map((cookie) => cookie.expires);
    const forgetful = await device();
    const page = await forgetful.newPage();
    await page.goto(baseUrl);
    const box = page.getByRole('checkbox', { name: 'Remember me' });
    expect(await box.isChecked()).toBe(true);
    await box.uncheck();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.locator('#who').textContent()).toBe('demo');
    expect(await sessionCookies(forgetful)).toEqual([-1, -1, -1]);
    const before = refreshes.length;
    await page.waitForTimeout((ACCESS_TOKEN_SECONDS + 1) * 1000);
    await addNote(page, 'still here');
    expect(refreshes.length).toBe(before + 1);
    expect(await sessionCookies(forgetful)).toEqual([-1, -1, -1]);

    const remembering = await device();
    await signIn(await remembering.newPage());
    const expiries = await sessionCookies(remembering);
    expect(expiries).toHaveLength(3);
    expect(expiries.every((expires) => expires > Date.now() / 1000)).toBe(true);
  });
});
