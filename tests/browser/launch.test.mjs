// LTI launches of microcred inside the test LMS's iframe, with third-party
// cookies allowed and blocked, with and without LTI client-side storage.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { launchBrowser } from "./support/browser.mjs";
import { checkPage, measureNarrow, progressBarProblems, runAxe, unlabelledFields } from "./support/checks.mjs";
import { startStack } from "./support/stack.mjs";
import { andWait, heading, openCourse, toolFrame } from "./support/tool.mjs";

/** Returns the storage messages that the LMS's storage frame (or the course page itself) received. */
async function storageLog(page, storage) {
  const holder = storage === "parent" ? page.mainFrame() : page.frame({ name: "post_message_forwarding" });
  assert.ok(holder, "the course page has no storage frame");
  return holder.evaluate(() => window.ltiStorageLog.map((entry) => ({ ...entry })));
}

function subjects(log) {
  return log.map((entry) => `${entry.subject} ${entry.key ?? ""}`.trim());
}

/** Starts a stack and a browser for each test of a describe block. */
function useStackAndBrowser(name, cookies) {
  const env = {};
  before(async () => {
    env.stack = await startStack(name);
    env.browser = await launchBrowser({
      cookies,
      toolOrigin: env.stack.toolOrigin,
      lmsOrigin: env.stack.lmsOrigin,
    });
  });
  after(async () => {
    await env.browser?.close();
    await env.stack?.close();
  });
  return env;
}

describe("launch with third-party cookies allowed", () => {
  const env = useStackAndBrowser("launch cookies allowed", "allowed");

  test("state cookie completes the launch", async () => {
    const frame = await openCourse(env.browser.page, env.stack, { role: "learner", storage: "frame" });
    const [launch, ...more] = env.stack.wire.launches();

    assert.equal(more.length, 0, "the launch was posted more than once");
    assert.equal(launch.stateCookieSent, true, `no state cookie at launch; Cookie: ${launch.cookieHeader}`);
    assert.equal(launch.status, 303);
    assert.match(await heading(frame), /Welcome, Grace Hopper/);
    assert.deepEqual(env.browser.blockedRequests, []);
  });

  test("login keeps state and nonce with the LMS", async () => {
    const log = await storageLog(env.browser.page, "frame");
    const names = subjects(log);
    assert.ok(names.some((name) => /^lti\.put_data state_/.test(name)), `storage messages: ${names}`);
    assert.ok(names.some((name) => /^lti\.put_data nonce_/.test(name)), `storage messages: ${names}`);
    for (const entry of log) {
      assert.equal(entry.origin, env.stack.toolOrigin);
      assert.equal(entry.answered, true);
    }
  });

  test("pages allow framing by the LMS only", async () => {
    const frame = await toolFrame(env.browser.page);
    const response = await frame.goto(frame.url());
    const headers = await response.allHeaders();
    const csp = headers["content-security-policy"] ?? "";
    const ancestors = csp.split(";").map((part) => part.trim()).find((part) => part.startsWith("frame-ancestors"));
    assert.ok(ancestors, `no frame-ancestors in Content-Security-Policy: ${csp}`);
    assert.deepEqual(ancestors.split(/\s+/).slice(1).sort(), ["'self'", env.stack.lmsOrigin].sort());
    assert.equal(headers["referrer-policy"], "no-referrer");
  });

  test("page checks detect broken markup", async () => {
    // The checks must be able to fail inside the tool's frame, whose
    // Content-Security-Policy allows only the tool's own scripts.
    const { page } = env.browser;
    const frame = await toolFrame(page);
    await frame.evaluate(() => {
      const broken = document.createElement("div");
      broken.id = "broken-markup";
      broken.innerHTML =
        '<input type="text" name="unlabelled">' +
        '<div role="progressbar"></div>' +
        '<button type="button"></button>' +
        '<p>A paragraph wider than a narrow frame.</p>';
      // Set through the CSSOM: the tool's CSP refuses style attributes in markup.
      broken.querySelector("p").style.width = "600px";
      document.querySelector("main").append(broken);
    });
    try {
      const violations = (await runAxe(frame)).map((violation) => violation.id);
      assert.ok(violations.includes("button-name"), `axe missed the unnamed button: ${violations}`);
      assert.equal((await unlabelledFields(frame)).length, 1);
      const bars = await progressBarProblems(frame);
      assert.equal(bars.count, 1);
      assert.ok(bars.problems.some((problem) => problem.includes("aria-valuenow")), bars.problems.join("\n"));
      const layout = await measureNarrow(page, frame, "broken-markup-check");
      assert.ok(layout.scrollWidth > 320, `the 600 px paragraph did not widen the page: ${JSON.stringify(layout)}`);
    } finally {
      await frame.evaluate(() => document.getElementById("broken-markup").remove());
    }
  });

  test("launch without storage target redirects", async () => {
    const before = env.stack.wire.records.length;
    const frame = await openCourse(env.browser.page, env.stack, { role: "learner", storage: "none" });
    const records = env.stack.wire.records.slice(before);
    const login = records.find((record) => record.path === "/lti/login");
    assert.equal(login.status, 302, "login initiation without lti_storage_target should redirect");
    const launches = records.filter((record) => record.path === "/lti/launch");
    assert.equal(launches.length, 1);
    assert.equal(launches[0].stateCookieSent, true);
    assert.match(await heading(frame), /Welcome, Grace Hopper/);
  });
});

for (const storage of ["frame", "parent"]) {
  describe(`launch with third-party cookies blocked, storage target ${storage === "frame" ? "post_message_forwarding" : "_parent"}`, () => {
    const env = useStackAndBrowser(`launch cookies blocked storage ${storage}`, "blocked");

    test("launch completes through LMS storage", async () => {
      const frame = await openCourse(env.browser.page, env.stack, { role: "learner", storage });
      const launches = env.stack.wire.launches();

      assert.equal(launches.length, 2, "expected the platform's post, then the tool's re-post with a continuation");
      const [first, second] = launches;
      assert.equal(first.stateCookieSent, false, `the state cookie was sent although cookies are blocked: ${first.cookieHeader}`);
      assert.equal(first.status, 200, "the launch without a cookie should answer the storage check page");
      assert.equal(second.stateCookieSent, false);
      assert.ok(second.form.continuation, "the re-post carries no continuation token");
      assert.equal(second.form.state, first.form.state);
      assert.equal(second.status, 303);
      assert.match(await heading(frame), /Welcome, Grace Hopper/);
    });

    test("storage holds the login state", async () => {
      const log = await storageLog(env.browser.page, storage);
      const names = subjects(log);
      // The storage keeps the state's id, the part before the first dot of the token.
      const state = env.stack.wire.launches()[0].form.state.split(".")[0];
      assert.ok(state.length >= 16, state);
      assert.deepEqual(
        names.filter((name) => name.startsWith("lti.put_data state_") || name.startsWith("lti.get_data")),
        [`lti.put_data state_${state}`, `lti.get_data state_${state}`],
      );
      assert.ok(log.every((entry) => entry.origin === env.stack.toolOrigin && entry.answered));
    });

    test("browser holds no tool cookie", async () => {
      const cookies = await env.browser.context.cookies(env.stack.toolUrl);
      assert.deepEqual(cookies.map((cookie) => cookie.name), []);
    });

    test("navigation works with the page token alone", async () => {
      const frame = await toolFrame(env.browser.page);
      await andWait(frame, () => frame.getByRole("link", { name: "Catalogue", exact: true }).click());
      assert.equal(await heading(frame), "Catalogue");
      await andWait(frame, () => frame.getByRole("link", { name: "Using Exit Tickets to Adjust Instruction" }).click());
      assert.equal(await heading(frame), "Using Exit Tickets to Adjust Instruction");
    });
  });
}

describe("launch with third-party cookies blocked and no LMS storage", () => {
  const env = useStackAndBrowser("launch cookies blocked no storage", "blocked");

  test("new-window page appears in the iframe", async (t) => {
    const frame = await openCourse(env.browser.page, env.stack, { role: "learner", storage: "none" }, {
      expectPath: "/lti/launch",
    });
    const [launch] = env.stack.wire.launches();
    assert.equal(launch.stateCookieSent, false);
    assert.equal(launch.status, 400);
    assert.equal(await heading(frame), "Open microcred in a new window");
    await checkPage(t, { page: env.browser.page, frame }, "new-window");
  });

  test("new window completes the launch", async () => {
    const frame = await toolFrame(env.browser.page);
    const link = frame.getByRole("link", { name: "Open microcred in a new window" });
    assert.equal(await link.getAttribute("target"), "_blank");
    const [popup] = await Promise.all([env.browser.context.waitForEvent("page"), link.click()]);
    await popup.waitForURL((url) => url.pathname === "/app", { timeout: 20_000 });
    await popup.waitForLoadState("load");
    assert.equal(new URL(popup.url()).origin, env.stack.toolOrigin);
    assert.match(((await popup.locator("h1").first().textContent()) ?? "").trim(), /Welcome, Grace Hopper/);

    const launches = env.stack.wire.launches();
    const last = launches[launches.length - 1];
    assert.equal(last.stateCookieSent, true, "the top-level window should send its first-party state cookie");
    assert.equal(last.status, 303);
  });
});
