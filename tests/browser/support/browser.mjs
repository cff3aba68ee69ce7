// Headless Debian Chromium, driven by playwright-core, with a fresh profile
// per test and no network beyond loopback.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.MICROCRED_CHROMIUM || "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const ACTION_TIMEOUT_MS = 10_000;

export const DESKTOP_VIEWPORT = { width: 1024, height: 900 };

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Writes the profile preferences that block third-party cookies.
 *
 * Chromium's "Block third-party cookies" setting (cookie_controls_mode 1)
 * still lets an embedded site keep partitioned (CHIPS) cookies, and
 * microcred sets its state cookie with `Partitioned`, so that setting alone
 * leaves the state cookie in place. The cookie content setting below blocks
 * every cookie of the tool's origin while it is embedded in the LMS, as
 * browsers that refuse all third-party cookies do. A page of the tool opened
 * at the top level (the "new window" fallback) keeps its cookies.
 */
function writeBlockingPreferences(userDataDir, toolOrigin, lmsOrigin) {
  const profileDir = path.join(userDataDir, "Default");
  fs.mkdirSync(profileDir, { recursive: true });
  const preferences = {
    profile: {
      cookie_controls_mode: 1,
      block_third_party_cookies: true,
      content_settings: {
        exceptions: {
          cookies: {
            [`${toolOrigin},${lmsOrigin}`]: { setting: 2 },
          },
        },
      },
    },
  };
  fs.writeFileSync(path.join(profileDir, "Preferences"), JSON.stringify(preferences));
}

/**
 * Launches Chromium with a new profile.
 *
 * `cookies` is "allowed" (Chromium's default: third-party cookies allowed)
 * or "blocked" (see writeBlockingPreferences; needs `toolOrigin` and
 * `lmsOrigin`). Every request to a host other than 127.0.0.1 or localhost
 * is aborted and listed in `blockedRequests`.
 *
 * Returns `{ context, page, blockedRequests, close() }`.
 */
export async function launchBrowser({ cookies = "allowed", toolOrigin, lmsOrigin } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "microcred-chromium-"));
  if (cookies === "blocked") {
    if (!toolOrigin || !lmsOrigin) {
      throw new Error("blocking third-party cookies needs toolOrigin and lmsOrigin");
    }
    writeBlockingPreferences(userDataDir, toolOrigin, lmsOrigin);
  } else if (cookies !== "allowed") {
    throw new Error(`cookies must be "allowed" or "blocked", got ${JSON.stringify(cookies)}`);
  }

  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: DESKTOP_VIEWPORT,
    acceptDownloads: true,
  });
  const blockedRequests = [];
  // A route on the context covers the pages it opens later (pop-ups) too.
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (["http:", "https:", "ws:", "wss:"].includes(url.protocol) && !LOOPBACK_HOSTS.has(url.hostname)) {
      blockedRequests.push(url.href);
      return route.abort("blockedbyclient");
    }
    return route.fallback();
  });
  // A step of a test is one page load or one click. A step that takes
  // longer than this has failed, and a shorter wait reports it sooner.
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());

  return {
    context,
    page,
    blockedRequests,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
