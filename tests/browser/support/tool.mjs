// Helpers to drive microcred inside the test LMS's course page.

import { serverErrors } from "./stack.mjs";

export const TOOL_FRAME_NAME = "microcred";
const LAUNCH_TIMEOUT_MS = 20_000;

/** Waits for the course page's tool iframe and returns its Playwright frame. */
export async function toolFrame(page, timeout = LAUNCH_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const frame = page.frame({ name: TOOL_FRAME_NAME });
    if (frame) {
      return frame;
    }
    if (Date.now() > deadline) {
      throw new Error(`the course page has no iframe named ${TOOL_FRAME_NAME} after ${timeout} ms`);
    }
    await page.waitForTimeout(50);
  }
}

/** Returns the path of the document in `frame`, for messages. */
export function framePath(frame) {
  const url = new URL(frame.url());
  return url.pathname;
}

/**
 * Loads the course page with `params` (see testkit/src/bin/test-lms.rs),
 * waits until the tool frame shows a page whose path is `expectPath` and
 * returns the frame.
 */
export async function openCourse(page, stack, params = {}, { expectPath = "/app" } = {}) {
  await page.goto(stack.courseUrl(params));
  const frame = await toolFrame(page);
  try {
    await frame.waitForURL((url) => url.pathname === expectPath, { timeout: LAUNCH_TIMEOUT_MS });
    await frame.waitForLoadState("load");
  } catch (error) {
    const heading = await frame.locator("h1").first().textContent({ timeout: 1000 }).catch(() => "(none)");
    throw new Error(
      `the launch did not reach ${expectPath}: the tool frame is at ${frame.url()} with heading ${JSON.stringify(heading)}. ` +
        `${error.message.split("\n")[0]}. Last server error: ${serverErrors(stack.serverLog).pop() ?? "(none logged)"}`,
    );
  }
  const failure = await frame.locator("section.error h1").first().textContent({ timeout: 500 }).catch(() => null);
  if (failure !== null) {
    const lastError = serverErrors(stack.serverLog).pop() ?? "(none logged)";
    throw new Error(`the launch reached ${expectPath} but shows the error page "${failure.trim()}". Last server error: ${lastError}`);
  }
  return frame;
}

/** Runs `action` (a click, a key press) and waits for the frame's next page to load. */
export async function andWait(frame, action) {
  const [response] = await Promise.all([frame.waitForNavigation({ waitUntil: "load" }), action()]);
  return response;
}

/** Returns the page token `_s` of the page in `frame`. */
export function pageToken(frame) {
  const token = new URL(frame.url()).searchParams.get("_s");
  if (!token) {
    throw new Error(`the tool page ${frame.url()} has no page token _s in its URL`);
  }
  return token;
}

/** Loads `path` of the tool in `frame` with the current page token. */
export async function goInFrame(frame, path) {
  const url = new URL(path, frame.url());
  url.searchParams.set("_s", pageToken(frame));
  return frame.goto(url.href);
}

/** Returns the trimmed text of the first h1 in `frame`. */
export async function heading(frame) {
  return ((await frame.locator("h1").first().textContent()) ?? "").trim();
}

/** Returns the text of the status notice in `frame`, or "" when there is none. */
export async function notice(frame) {
  const locator = frame.locator(".notice[role=status], [role=status].notice");
  if ((await locator.count()) === 0) {
    return "";
  }
  return ((await locator.first().textContent()) ?? "").replace(/\s+/g, " ").trim();
}

/** Returns `count` words of text in sentences, for draft fields with word limits. */
export function words(count, topic = "exit ticket") {
  const sentence = [
    "Students answered the", topic, "question at the end of the lesson and",
    "I sorted their answers by the thinking they showed, not by score.",
  ].join(" ").split(/\s+/);
  const out = [];
  while (out.length < count) {
    out.push(...sentence);
  }
  return out.slice(0, count).join(" ").replace(/\.?$/, ".");
}

/**
 * Builds a small valid one-page PDF whose page shows `text`. The
 * cross-reference table contains the real byte offsets of the objects.
 */
export function smallPdf(text = "Exit ticket sample") {
  const safe = text.replace(/[()\\]/g, "");
  const stream = `BT /F1 18 Tf 72 720 Td (${safe}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let body = "%PDF-1.4\n";
  const offsets = [];
  objects.forEach((object, index) => {
    offsets.push(body.length);
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xrefAt = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) {
    body += `${String(offset).padStart(10, "0")} 00000 n \n`;
  }
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`;
  return Buffer.from(body, "latin1");
}
