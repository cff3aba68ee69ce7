// A participant earns a micro-credential inside the LMS iframe with
// third-party cookies blocked, and an instructor assesses the work, all
// through the user interface. Every main page on the way is checked for
// accessibility and for a 320 px wide frame, and screenshotted.

import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";

import { launchBrowser } from "./support/browser.mjs";
import { checkPage } from "./support/checks.mjs";
import { startStack } from "./support/stack.mjs";
import { andWait, goInFrame, heading, notice, openCourse, smallPdf, words } from "./support/tool.mjs";

const CREDENTIAL_TITLE = "Using Exit Tickets to Adjust Instruction";
const COMPONENT_COUNT = 5;
// Word counts that every exit-tickets component accepts. Across the five,
// the written text needs at least 250 to 400 words and takes at most 900 to
// 1200, and the reflection needs at least 50 to 100 and takes at most 300 to
// 500 (config/catalogue/formative-assessment.toml).
const TEXT_WORDS = 450;
const REFLECTION_WORDS = 120;

describe("participant journey with third-party cookies blocked", () => {
  const env = {};
  before(async () => {
    env.stack = await startStack("journey cookies blocked");
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

  const pdf = smallPdf("Exit ticket: fractions on a number line");

  /** Starts a draft, fills and saves it, then attaches the PDF. */
  async function writeDraftWithFile(frame, { checkEditor } = {}) {
    await andWait(frame, () => frame.getByRole("button", { name: "Start a draft" }).click());
    assert.match(await notice(frame), /Your draft is open/);

    await frame.getByLabel("Written text").fill(words(TEXT_WORDS));
    await frame.getByLabel(/^Reflection:/).fill(words(REFLECTION_WORDS, "reflection"));
    await andWait(frame, () => frame.getByRole("button", { name: "Save draft" }).click());
    assert.equal(await notice(frame), "Your draft is saved.");
    if (checkEditor) {
      await checkEditor();
    }

    await frame.locator("#upload-file").setInputFiles({ name: "exit-ticket.pdf", mimeType: "application/pdf", buffer: pdf });
    await andWait(frame, () => frame.getByRole("button", { name: "Upload file" }).click());
    assert.equal(await notice(frame), "The file is attached to your draft.");
    assert.equal(await frame.getByRole("link", { name: "exit-ticket.pdf" }).count(), 1);
  }

  async function submit(frame) {
    await andWait(frame, () => frame.getByRole("button", { name: "Submit for assessment" }).click());
    assert.equal(await notice(frame), "Your work is submitted. An assessor will review it against the rubric.");
  }

  test("participant submits, instructor assesses, participant earns", async (t) => {
    const { page } = env.browser;
    const context = () => ({ page, frame });

    // Participant: landing, catalogue, overview, registration.
    let frame = await openCourse(page, env.stack, { role: "learner", storage: "frame" });
    assert.match(await heading(frame), /Welcome, Grace Hopper/);
    await checkPage(t, context(), "landing");

    await andWait(frame, () => frame.getByRole("link", { name: "Catalogue", exact: true }).click());
    assert.equal(await heading(frame), "Catalogue");
    await checkPage(t, context(), "catalogue");

    await andWait(frame, () => frame.getByRole("link", { name: CREDENTIAL_TITLE }).click());
    assert.equal(await heading(frame), CREDENTIAL_TITLE);
    await checkPage(t, context(), "credential-overview");

    const checkboxes = frame.locator("form input[type=checkbox][name=self_check]");
    assert.ok((await checkboxes.count()) >= 2, "the registration form has no self-check statements");
    await checkboxes.nth(0).check();
    await checkboxes.nth(1).check();
    await andWait(frame, () => frame.getByRole("button", { name: "Register" }).click());
    assert.match(await notice(frame), /You are registered/);
    assert.match(await frame.locator("label[for=mastery-progress]").textContent(), /0 of 5 components mastered/);
    await checkPage(t, context(), "credential-progress", { progress: true });

    // First component: draft, upload, download, submit.
    const componentLinks = () => frame.locator("table.components tbody th a");
    assert.equal(await componentLinks().count(), COMPONENT_COUNT);
    await andWait(frame, () => componentLinks().nth(0).click());
    assert.equal(await heading(frame), "Design an exit ticket");
    await writeDraftWithFile(frame, {
      checkEditor: () => checkPage(t, context(), "component-draft-editor"),
    });

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      frame.getByRole("link", { name: "exit-ticket.pdf" }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "exit-ticket.pdf");
    const downloaded = fs.readFileSync(await download.path());
    assert.ok(downloaded.equals(pdf), "the downloaded file differs from the uploaded one");

    await submit(frame);
    await andWait(frame, () => frame.getByRole("link", { name: "Open attempt 1 on its own page" }).click());
    assert.equal(await heading(frame), "Attempt 1: Design an exit ticket");
    await checkPage(t, context(), "attempt-view");

    // The four other components.
    for (let index = 1; index < COMPONENT_COUNT; index += 1) {
      await andWait(frame, () => frame.locator(".breadcrumb a").first().click());
      if ((await heading(frame)) !== CREDENTIAL_TITLE) {
        await andWait(frame, () => frame.locator(".breadcrumb a").first().click());
      }
      assert.equal(await heading(frame), CREDENTIAL_TITLE);
      await andWait(frame, () => componentLinks().nth(index).click());
      await writeDraftWithFile(frame);
      await submit(frame);
    }

    // Instructor: the queue and the assessment form, five times.
    frame = await openCourse(page, env.stack, { role: "instructor", storage: "frame" });
    await andWait(frame, () => frame.getByRole("link", { name: "Assessment queue" }).first().click());
    assert.equal(await heading(frame), "Assessment queue");
    assert.match(await frame.locator("table.queue caption").textContent(), /5 attempts waiting/);
    await checkPage(t, context(), "assessment-queue");

    for (let index = 0; index < COMPONENT_COUNT; index += 1) {
      await andWait(frame, () => frame.locator("table.queue tbody tr").first().getByRole("link", { name: /^Assess/ }).click());
      assert.match(await heading(frame), /^Assess “/);
      if (index === 0) {
        await checkPage(t, context(), "assessment-form");
      }
      const criteria = frame.locator("fieldset.criterion");
      const count = await criteria.count();
      assert.ok(count > 0, "the assessment form lists no criterion");
      for (let criterion = 0; criterion < count; criterion += 1) {
        await criteria.nth(criterion).locator("label", { hasText: "(mastery)" }).click();
      }
      await andWait(frame, () => frame.getByRole("button", { name: "Save assessment" }).click());
      assert.equal(await heading(frame), "Assessment queue");
      const confirmation = (await frame.locator(".notice[role=status]").textContent()).replace(/\s+/g, " ");
      assert.match(confirmation, /is Mastered/);
      if (index === COMPONENT_COUNT - 1) {
        assert.match(confirmation, /has now earned Using Exit Tickets to Adjust Instruction/);
      }
    }

    // Participant again: earned, transcript, certificate, an error page.
    frame = await openCourse(page, env.stack, { role: "learner", storage: "frame" });
    await andWait(frame, () => frame.getByRole("link", { name: "Transcript", exact: true }).click());
    assert.equal(await heading(frame), "Your transcript");
    assert.match(await frame.locator("table.transcript tbody").textContent(), /Using Exit Tickets to Adjust Instruction/);
    await checkPage(t, context(), "transcript");

    await andWait(frame, () => frame.getByRole("link", { name: /^Certificate/ }).first().click());
    assert.equal(await heading(frame), "Certificate of Micro-credential");
    assert.match(await frame.locator(".recipient").textContent(), /Grace Hopper/);
    await checkPage(t, context(), "certificate");

    const missing = await goInFrame(frame, "/app/credentials/no-such-credential");
    assert.equal(missing.status(), 404);
    await checkPage(t, context(), "error-page");

    // Administrator: the catalogue administration page.
    frame = await openCourse(page, env.stack, { role: "admin", storage: "frame" });
    await andWait(frame, () => frame.getByRole("link", { name: "Admin", exact: true }).click());
    assert.equal(await heading(frame), "Catalogue");
    await checkPage(t, context(), "admin-catalogue");

    // Every launch of the journey went through LMS storage, never a cookie.
    const cookieLaunches = env.stack.wire.launches().filter((launch) => launch.stateCookieSent);
    assert.deepEqual(cookieLaunches.map((launch) => launch.url), []);
    assert.deepEqual(env.browser.blockedRequests, []);
  });
});
