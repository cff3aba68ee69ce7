// Registration, draft saving and submission with the keyboard alone (Tab,
// Enter, Space and typing), inside the LMS iframe with third-party cookies
// blocked.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { launchBrowser } from "./support/browser.mjs";
import { focused, pressAndWait, tabTo } from "./support/keyboard.mjs";
import { startStack } from "./support/stack.mjs";
import { heading, notice, openCourse, words } from "./support/tool.mjs";

describe("keyboard only, third-party cookies blocked", () => {
  const env = {};
  before(async () => {
    env.stack = await startStack("keyboard only");
    env.browser = await launchBrowser({
      cookies: "blocked",
      toolOrigin: env.stack.toolOrigin,
      lmsOrigin: env.stack.lmsOrigin,
    });
  });
  after(async () => {
    await env.browser?.close();
    await env.stack?.close();
  });

  test("register, save a draft and submit", async () => {
    const { page } = env.browser;
    const frame = await openCourse(page, env.stack, { role: "learner", storage: "frame" });
    await page.locator("body").focus();

    await tabTo(page, frame, (element) => element.tag === "a" && element.text === "Using Exit Tickets to Adjust Instruction", "the micro-credential link");
    await pressAndWait(page, frame, "Enter");
    assert.equal(await heading(frame), "Using Exit Tickets to Adjust Instruction");

    const checkbox = await tabTo(page, frame, (element) => element.type === "checkbox", "the first self-check box");
    assert.equal(checkbox.checked, false);
    await page.keyboard.press("Space");
    assert.equal((await focused(frame)).checked, true, "Space did not tick the self-check box");

    await tabTo(page, frame, (element) => element.tag === "button" && element.text === "Register", "the Register button");
    await pressAndWait(page, frame, "Space");
    assert.match(await notice(frame), /You are registered/);

    await tabTo(page, frame, (element) => element.tag === "a" && element.text === "1. Design an exit ticket", "the first component");
    await pressAndWait(page, frame, "Enter");
    assert.equal(await heading(frame), "Design an exit ticket");

    await tabTo(page, frame, (element) => element.tag === "button" && element.text === "Start a draft", "the Start a draft button");
    await pressAndWait(page, frame, "Enter");
    assert.match(await notice(frame), /Your draft is open/);

    await tabTo(page, frame, (element) => element.id === "draft-text", "the written text field");
    await page.keyboard.type(words(260));
    await tabTo(page, frame, (element) => element.id === "draft-reflection", "the reflection field");
    await page.keyboard.type(words(60, "reflection"));
    await tabTo(page, frame, (element) => element.tag === "button" && element.text === "Save draft", "the Save draft button");
    await pressAndWait(page, frame, "Enter");
    assert.equal(await notice(frame), "Your draft is saved.");
    assert.match(await frame.locator("#draft-text-count").textContent(), /^260 words so far/);

    await tabTo(page, frame, (element) => element.tag === "button" && element.text === "Submit for assessment", "the Submit for assessment button");
    await pressAndWait(page, frame, "Space");
    assert.equal(await notice(frame), "Your work is submitted. An assessor will review it against the rubric.");
    assert.match(await frame.locator(".state").first().textContent(), /./);
  });
});
