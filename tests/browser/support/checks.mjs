// Checks every main page of microcred gets: an axe-core scan, labels on
// form fields, accessible progress bars, no horizontal scrolling at 320 px,
// and screenshots at both widths.

import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import { DESKTOP_VIEWPORT } from "./browser.mjs";
import { outputDir } from "./stack.mjs";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");

export const screenshotDir = path.join(outputDir, "screenshots");
const axeReportDir = path.join(outputDir, "accessibility");

export const NARROW_WIDTH = 320;
const TOOL_IFRAME_ID = "tool-frame";

/**
 * Resizes the LMS's tool iframe to the height of its content, so that a
 * full-page screenshot shows the whole tool page and the frame has no
 * vertical scrollbar taking width.
 */
export async function fitFrame(page, frame) {
  await page.evaluate((id) => {
    document.getElementById(id).style.height = "100px";
  }, TOOL_IFRAME_ID);
  const height = await frame.evaluate(() => Math.ceil(document.documentElement.scrollHeight));
  await page.evaluate(
    ({ id, value }) => {
      document.getElementById(id).style.height = `${value}px`;
    },
    { id: TOOL_IFRAME_ID, value: height },
  );
}

/** Waits until `frame` has painted twice, so a screenshot shows its current layout. */
async function afterPaint(frame) {
  await frame.evaluate(
    () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
  );
}

/**
 * Saves a screenshot of the whole LMS page as screenshots/NAME.png and
 * returns its path. The window is made as tall as the page first: a
 * full-page capture (captureBeyondViewport) leaves the part of a
 * cross-site iframe below the window unpainted in Chromium.
 */
export async function screenshot(page, frame, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  const viewport = page.viewportSize();
  const height = await page.evaluate(() => Math.ceil(document.documentElement.scrollHeight));
  await page.setViewportSize({ width: viewport.width, height: Math.max(viewport.height, height) });
  try {
    await afterPaint(frame);
    await page.screenshot({ path: file });
  } finally {
    await page.setViewportSize(viewport);
  }
  return file;
}

/**
 * Runs axe-core in `frame` and returns its violations. The script is added
 * with addScriptTag first. The tool's Content-Security-Policy (script-src
 * 'self') blocks that inline script, so it is then evaluated through the
 * DevTools protocol, which CSP does not govern.
 */
export async function runAxe(frame) {
  await frame.addScriptTag({ path: axePath }).catch(() => {});
  const loaded = await frame.evaluate(() => typeof window.axe === "object");
  if (!loaded) {
    await frame.evaluate(fs.readFileSync(axePath, "utf8"));
  }
  const results = await frame.evaluate(async () => {
    const outcome = await window.axe.run(document, { resultTypes: ["violations"] });
    return outcome.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      helpUrl: violation.helpUrl,
      nodes: violation.nodes.map((node) => ({ target: node.target.join(" "), html: node.html.slice(0, 200) })),
    }));
  });
  return results;
}

function describeViolation(violation) {
  const targets = violation.nodes.slice(0, 4).map((node) => `${node.target} ${node.html}`).join("\n      ");
  return `${violation.id} (${violation.impact}): ${violation.help}\n      ${targets}`;
}

/** Lists the form fields in `frame` that have no non-empty <label>. */
export async function unlabelledFields(frame) {
  return frame.evaluate(() => {
    const skipped = new Set(["hidden", "submit", "button", "reset", "image"]);
    return [...document.querySelectorAll("input, select, textarea")]
      .filter((field) => !(field.tagName === "INPUT" && skipped.has(field.type)))
      .filter((field) => ![...(field.labels ?? [])].some((label) => label.textContent.trim() !== ""))
      .map((field) => field.outerHTML.slice(0, 160));
  });
}

/**
 * Checks every progress bar in `frame`: a <progress> needs a value, a text
 * equivalent inside it and a label; an element with role="progressbar"
 * needs aria-valuenow, aria-valuemin and aria-valuemax and a text
 * equivalent. Returns `{ count, problems }`.
 */
export async function progressBarProblems(frame) {
  return frame.evaluate(() => {
    const problems = [];
    const bars = [...document.querySelectorAll("progress, [role=progressbar]")];
    for (const bar of bars) {
      const markup = bar.outerHTML.slice(0, 160);
      const named =
        (bar.labels && bar.labels.length > 0) || bar.hasAttribute("aria-label") || bar.hasAttribute("aria-labelledby");
      if (!named) {
        problems.push(`no label: ${markup}`);
      }
      if (bar.tagName === "PROGRESS") {
        if (!bar.hasAttribute("value")) {
          problems.push(`<progress> without a value: ${markup}`);
        }
        if (bar.textContent.trim() === "") {
          problems.push(`<progress> without a text equivalent inside it: ${markup}`);
        }
      } else {
        for (const attribute of ["aria-valuenow", "aria-valuemin", "aria-valuemax"]) {
          if (!bar.hasAttribute(attribute)) {
            problems.push(`role=progressbar without ${attribute}: ${markup}`);
          }
        }
        if (!bar.hasAttribute("aria-valuetext") && bar.textContent.trim() === "") {
          problems.push(`role=progressbar without a text equivalent: ${markup}`);
        }
      }
    }
    return { count: bars.length, problems };
  });
}

/**
 * Narrows the browser window to 320 px, measures the tool page and saves
 * screenshots/NAME-320px.png. Returns the widths and the elements that
 * stick out past the right edge.
 */
export async function measureNarrow(page, frame, name) {
  await page.setViewportSize({ width: NARROW_WIDTH, height: 800 });
  try {
    await fitFrame(page, frame);
    const layout = await frame.evaluate(() => {
      const width = window.innerWidth;
      // An element is clipped by a scrolling or hidden-overflow ancestor,
      // searched from its containing block: an absolutely positioned
      // element escapes every ancestor below its offsetParent.
      const clipped = (element) => {
        const position = getComputedStyle(element).position;
        const start = position === "absolute" || position === "fixed" ? element.offsetParent : element.parentElement;
        for (let node = start; node && node !== document.body; node = node.parentElement) {
          if (getComputedStyle(node).overflowX !== "visible") {
            return true;
          }
        }
        return false;
      };
      const describe = (element) => {
        const classes = element.classList.length > 0 ? `.${[...element.classList].join(".")}` : "";
        const id = element.id ? `#${element.id}` : "";
        const right = Math.round(element.getBoundingClientRect().right);
        return `<${element.tagName.toLowerCase()}${id}${classes}> right edge at ${right} px: ${element.textContent.trim().slice(0, 60)}`;
      };
      const offenders = [...document.body.querySelectorAll("*")]
        .filter((element) => {
          const box = element.getBoundingClientRect();
          return box.width > 0 && box.right > width + 0.5 && !clipped(element);
        })
        .slice(0, 6)
        .map(describe);
      return {
        innerWidth: width,
        clientWidth: document.documentElement.clientWidth,
        scrollWidth: document.documentElement.scrollWidth,
        offenders,
      };
    });
    await screenshot(page, frame, `${name}-320px`);
    return layout;
  } finally {
    await page.setViewportSize(DESKTOP_VIEWPORT);
    await fitFrame(page, frame);
  }
}

/**
 * Checks the page now shown in the tool frame and saves its screenshots,
 * each check as its own subtest of `t` so that one failure does not hide
 * the others. `progress: true` also requires at least one progress bar.
 */
export async function checkPage(t, { page, frame }, name, { progress = false } = {}) {
  await frame.waitForLoadState("load");
  await fitFrame(page, frame);
  await screenshot(page, frame, name);

  await t.test(`${name}: no serious or critical axe violations`, async () => {
    const violations = await runAxe(frame);
    fs.mkdirSync(axeReportDir, { recursive: true });
    fs.writeFileSync(path.join(axeReportDir, `${name}.json`), JSON.stringify(violations, null, 2));
    const serious = violations.filter((violation) => ["serious", "critical"].includes(violation.impact));
    assert.deepEqual(
      serious.map((violation) => violation.id),
      [],
      `axe found on ${new URL(frame.url()).pathname}:\n    ${serious.map(describeViolation).join("\n    ")}`,
    );
  });

  await t.test(`${name}: every form field has a label`, async () => {
    const missing = await unlabelledFields(frame);
    assert.deepEqual(missing, [], `fields without a <label> on ${new URL(frame.url()).pathname}`);
  });

  await t.test(`${name}: progress bars are accessible`, async () => {
    const { count, problems } = await progressBarProblems(frame);
    if (progress) {
      assert.ok(count > 0, `no progress bar on ${new URL(frame.url()).pathname}`);
    }
    assert.deepEqual(problems, []);
  });

  await t.test(`${name}: no horizontal scroll at 320 px`, async () => {
    const layout = await measureNarrow(page, frame, name);
    assert.equal(layout.innerWidth, NARROW_WIDTH, "the tool frame is not 320 px wide, so the check would prove nothing");
    assert.ok(
      layout.scrollWidth <= NARROW_WIDTH,
      `the page is ${layout.scrollWidth} px wide in a ${NARROW_WIDTH} px frame; elements past the edge:\n    ` +
        layout.offenders.join("\n    "),
    );
  });
}
