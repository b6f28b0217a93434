import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: the browser tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';

const QUIET_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Whether the browser suites can run here. In CI a missing Chromium fails the run; on a developer's
 * machine without it the suites are left out with a visible notice.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`CI requires Debian's chromium at ${CHROMIUM} (see .ci/run).`);
  console.warn(
    `\n*** ${CHROMIUM} is missing: the browser tests are NOT run (apt-get install chromium). ***\n`,
  );
  return false;
}

/** Headless Chromium that talks to nothing but the test's servers; `args` adds switches. */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...QUIET_ARGS, ...args] });
}
