// LTI Dynamic Registration started from the test LMS's "Register a tool"
// page, with microcred's result page inside the LMS iframe, then the
// Registrations admin pages, where an LMS administrator approves the new
// registration and adds one by hand. Third-party cookies are blocked.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { launchBrowser } from "./support/browser.mjs";
import { checkPage } from "./support/checks.mjs";
import { pressAndWait, tabTo } from "./support/keyboard.mjs";
import { startStack } from "./support/stack.mjs";
import { andWait, heading, notice, openCourse, toolFrame } from "./support/tool.mjs";

const CLOSE_SUBJECT = "org.imsglobal.lti.close";
const CLOSED_TEXT = "Registration window closed";

describe("dynamic registration and the Registrations admin pages", () => {
  const env = {};
  before(async () => {
    env.stack = await startStack("registrations");
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

  /**
   * Loads the LMS's "Register a tool" page with `query` and waits for the
   * tool's registration page in its frame. Returns the frame and the
   * response to GET /lti/register.
   */
  async function openRegistration(query = "") {
    const { page } = env.browser;
    const responseSeen = page.waitForResponse((response) => new URL(response.url()).pathname === "/lti/register");
    await page.goto(`${env.stack.lms.register_tool_url}${query}`);
    const response = await responseSeen;
    const frame = await toolFrame(page);
    await frame.waitForURL((url) => url.pathname === "/lti/register");
    await frame.waitForLoadState("load");
    return { frame, response };
  }

  /** Returns the origins that the response lets frame the page (CSP frame-ancestors). */
  async function frameAncestors(response) {
    const csp = (await response.allHeaders())["content-security-policy"] ?? "";
    const directive = csp.split(";").map((part) => part.trim()).find((part) => part.startsWith("frame-ancestors"));
    assert.ok(directive, `no frame-ancestors in Content-Security-Policy: ${csp}`);
    return directive.split(/\s+/).slice(1).sort();
  }

  /** Presses "Return to the LMS" and returns the close messages the LMS page logged. */
  async function returnToLms(frame) {
    const { page } = env.browser;
    await frame.getByRole("button", { name: "Return to the LMS" }).click();
    await page.locator("#registration-status", { hasText: CLOSED_TEXT }).waitFor();
    return page.evaluate(() => window.ltiCloseLog.map((entry) => ({ ...entry })));
  }

  /** Returns the text of the <dd> that follows the <dt> named `term` in `frame`. */
  async function fact(frame, term) {
    const text = await frame.locator(`dl.facts dt:text-is("${term}") + dd`).textContent();
    return text.replace(/\s+/g, " ").trim();
  }

  test("rejected registration shows the platform's answer", async (t) => {
    const { page } = env.browser;
    const { frame, response } = await openRegistration("?reject=1");

    assert.equal(response.status(), 502);
    assert.equal(await heading(frame), "microcred could not be registered");
    assert.match(await frame.locator(".notice-warn").textContent(), /refused the registration with status 400/);
    const answer = await frame.locator("pre.answer").textContent();
    assert.match(answer, /"error":\s*"invalid_client_metadata"/);
    assert.match(answer, /rejects every registration on request/);
    assert.deepEqual(await frameAncestors(response), ["'self'", env.stack.lmsOrigin].sort());
    await checkPage(t, { page, frame }, "registration-rejected");

    const log = await returnToLms(frame);
    assert.deepEqual(log, [{ origin: env.stack.toolOrigin, subject: CLOSE_SUBJECT, accepted: true }]);
    assert.equal(await page.locator("#tool-frame").isHidden(), true, "the LMS did not close the registration frame");
  });

  test("registration renders in the LMS frame", async (t) => {
    const { page } = env.browser;
    const { lms } = env.stack;
    const { frame, response } = await openRegistration();

    assert.equal(response.status(), 200);
    // The page rendered inside the LMS's iframe, so frame-ancestors let the
    // LMS frame it although the LMS was not registered yet.
    assert.deepEqual(await frameAncestors(response), ["'self'", env.stack.lmsOrigin].sort());
    assert.equal(await heading(frame), "microcred is registered");
    assert.match(await frame.locator(".notice").first().textContent(), /The registration waits for approval/);
    assert.equal(await fact(frame, "Issuer"), lms.second_issuer);
    assert.equal(await fact(frame, "Client id"), lms.second_client_id);
    assert.equal(await fact(frame, "Deployment"), lms.second_deployment_id);
    await checkPage(t, { page, frame }, "registration-pending");

    const log = await returnToLms(frame);
    assert.deepEqual(log, [{ origin: env.stack.toolOrigin, subject: CLOSE_SUBJECT, accepted: true }]);
    assert.equal(await page.locator("#tool-frame").isHidden(), true, "the LMS did not close the registration frame");
    assert.deepEqual(env.browser.blockedRequests, []);
  });

  test("admin approves the new registration", async (t) => {
    const { page } = env.browser;
    const { lms } = env.stack;
    const frame = await openCourse(page, env.stack, { role: "admin", storage: "frame" });
    const context = { page, frame };
    await andWait(frame, () => frame.getByRole("link", { name: "Admin", exact: true }).click());
    assert.equal(await heading(frame), "Catalogue");

    await page.locator("body").focus();
    await tabTo(page, frame, (element) => element.tag === "a" && element.text === "Registrations", "the Registrations link");
    await pressAndWait(page, frame, "Enter");
    assert.equal(await heading(frame), "Registrations");
    const waiting = frame.locator("section.waiting tbody tr", { hasText: lms.second_client_id });
    assert.equal(await waiting.count(), 1, "the new registration is not listed as waiting for approval");
    await checkPage(t, context, "admin-registrations");

    await andWait(frame, () => waiting.getByRole("link").click());
    const name = await heading(frame);
    assert.equal(await fact(frame, "Status"), "Waiting for approval");
    assert.equal(await fact(frame, "Client id"), lms.second_client_id);
    assert.equal(await fact(frame, "Source"), "Dynamic registration");
    await checkPage(t, context, "admin-registration");

    await andWait(frame, () => frame.getByRole("button", { name: `Approve registration ${name}` }).click());
    assert.equal(await notice(frame), `${name} is active. Launches from it are accepted now.`);
    assert.equal(await fact(frame, "Status"), "Active");

    await andWait(frame, () => frame.locator(".breadcrumb a", { hasText: "Registrations" }).click());
    assert.equal(await frame.locator("section.waiting").count(), 0, "the list still shows registrations waiting for approval");
    const row = frame.locator("section.issuer-group tbody tr", { hasText: lms.second_client_id });
    assert.equal((await row.locator(".state").textContent()).trim(), "Active");
  });

  test("admin adds a registration by hand", async (t) => {
    const { page } = env.browser;
    const frame = await toolFrame(page);
    const context = { page, frame };
    assert.equal(await heading(frame), "Registrations");
    await andWait(frame, () => frame.getByRole("link", { name: "Add a registration by hand" }).click());
    assert.equal(await heading(frame), "Add a registration by hand");
    await checkPage(t, context, "admin-registration-new");

    // Loopback URLs with no server behind them: adding a registration sends no request to the platform.
    const issuer = `${env.stack.lmsOrigin}/by-hand`;
    await frame.locator("#issuer").fill(issuer);
    await frame.locator("#client_id").fill("by-hand-client");
    await frame.locator("#deployment_ids").fill("by-hand-deployment-1\nby-hand-deployment-2");
    // The browser accepts an ftp URL in an <input type=url>; microcred does not.
    await frame.locator("#auth_url").fill("ftp://127.0.0.1/by-hand/authorize");
    await frame.locator("#token_url").fill(`${issuer}/token`);
    await frame.locator("#jwks_url").fill(`${issuer}/jwks`);
    const rejected = await andWait(frame, () => frame.getByRole("button", { name: "Save the registration" }).click());
    assert.equal(rejected.status(), 422);
    assert.equal(await frame.locator(".error-summary h2").textContent(), "Nothing was saved");
    const summaryLink = frame.locator(".error-summary a");
    assert.equal(await summaryLink.count(), 1);
    assert.equal(await summaryLink.getAttribute("href"), "#auth_url");
    assert.match(await frame.locator("#auth_url-problem").textContent(), /is not an absolute http or https URL/);
    const field = frame.locator("#auth_url");
    assert.equal(await field.getAttribute("aria-invalid"), "true");
    assert.match(await field.getAttribute("aria-describedby"), /\bauth_url-problem\b/);
    assert.equal(await frame.locator("#issuer").inputValue(), issuer, "the form did not keep the entries");
    await checkPage(t, context, "admin-registration-new-problems");

    await field.fill(`${issuer}/authorize`);
    await andWait(frame, () => frame.getByRole("button", { name: "Save the registration" }).click());
    assert.equal(await heading(frame), "Client by-hand-client");
    assert.equal(await notice(frame), "Client by-hand-client is saved and active.");
    assert.equal(await fact(frame, "Issuer"), issuer);
    assert.equal(await fact(frame, "Status"), "Active");
    assert.equal(await fact(frame, "Source"), "Added by hand");
    assert.equal(await fact(frame, "Manages registrations"), "No");
    const deployments = await frame.locator("table.deployments tbody th").allTextContents();
    assert.deepEqual(deployments.map((text) => text.trim()), ["by-hand-deployment-1", "by-hand-deployment-2"]);
  });
});
