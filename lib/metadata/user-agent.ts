import type { SessionDevice } from '../interfaces/session-metadata.interface.js';

type Bowser = typeof import('bowser');

/** `bowser` (MIT), loaded on first use: apps that turn metadata off never load it. */
let parser: Promise<Bowser> | undefined;

function loadBowser(): Promise<Bowser> {
  // CommonJS `export =`: under Node's ESM loader the namespace's `default` is the module.
  parser ??= import('bowser').then(
    (module) => ((module as unknown as { default?: Bowser }).default ?? module) as Bowser,
  );
  return parser;
}

/** The longest stored part of a device description, in characters. */
const MAX_PART = 64;
const DEVICE_TYPES = new Set(['desktop', 'mobile', 'tablet', 'tv', 'bot']);

const part = (value: string | undefined) => {
  const text = value?.trim();
  return text ? Array.from(text).slice(0, MAX_PART).join('') : null;
};

/** Browser, OS and device type of a user agent; a part the parser does not recognise is `null`. */
export async function parseDevice(userAgent: string): Promise<SessionDevice> {
  const bowser = await loadBowser();
  const { browser, os, platform } = bowser.parse(userAgent);
  const major = browser.version?.split('.')[0];
  const osVersion = os.versionName ?? os.version;
  const type = platform.type?.toLowerCase();
  return {
    browser: part(browser.name && (major ? `${browser.name} ${major}` : browser.name)),
    os: part(os.name && (osVersion ? `${os.name} ${osVersion}` : os.name)),
    type: type && DEVICE_TYPES.has(type) ? type : null,
  };
}
