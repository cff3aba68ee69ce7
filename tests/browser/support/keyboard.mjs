// Keyboard helpers: find the focused element of a tool frame, press Tab
// until focus reaches an element, and press a key that loads a new page.

import assert from "node:assert/strict";

const MAX_TABS = 80;

/** Describes the focused element of `frame`, or null when focus is elsewhere. */
export function focused(frame) {
  return frame.evaluate(() => {
    const element = document.activeElement;
    if (!document.hasFocus() || !element || element === document.body) {
      return null;
    }
    const labels = element.labels ? [...element.labels].map((label) => label.textContent) : [];
    const style = getComputedStyle(element);
    return {
      tag: element.tagName.toLowerCase(),
      type: element.getAttribute("type") ?? "",
      id: element.id,
      text: (element.textContent || labels.join(" ") || element.getAttribute("aria-label") || "").replace(/\s+/g, " ").trim(),
      checked: element.checked === true,
      indicator:
        (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none",
    };
  });
}

/**
 * Presses Tab until the focused element of `frame` passes `matches`, and
 * returns it; fails after MAX_TABS presses. Checks that the element shows
 * a focus indicator.
 */
export async function tabTo(page, frame, matches, description) {
  const seen = [];
  for (let presses = 0; presses < MAX_TABS; presses += 1) {
    await page.keyboard.press("Tab");
    const element = await focused(frame);
    if (element && matches(element)) {
      assert.ok(element.indicator, `${description} has no visible focus indicator (outline or box-shadow)`);
      return element;
    }
    seen.push(element ? `${element.tag}${element.id ? `#${element.id}` : ""} "${element.text.slice(0, 40)}"` : "(outside the tool)");
  }
  assert.fail(`Tab never reached ${description} after ${MAX_TABS} presses; focus went through:\n  ${seen.join("\n  ")}`);
}

/** Presses `key` on the focused element and waits for the frame's next page. */
export async function pressAndWait(page, frame, key) {
  await Promise.all([frame.waitForNavigation({ waitUntil: "load" }), page.keyboard.press(key)]);
}
