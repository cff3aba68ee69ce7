// Starts what one browser test needs: a microcred server on its own
// database and a test LMS (testkit/src/bin/test-lms.rs) with microcred
// registered as its tool.
//
// The LMS is served on http://127.0.0.1:PORT and microcred on
// http://localhost:PORT, so the two are different sites and the browser's
// third-party cookie rules apply to microcred inside the LMS iframe.
//
// The browser reaches microcred through a recording proxy in this process,
// which keeps the Cookie header and form of every request to /lti/ as
// microcred received it. (Playwright's request.allHeaders() leaves cookies
// out once page.route intercepts requests, so it cannot tell whether the
// state cookie was sent.)
//
// Environment:
//   MICROCRED_BIN            the microcred binary (default: target/debug/microcred)
//   MICROCRED_TEST_LMS_BIN   the test LMS binary (default: target/debug/test-lms)
//   MICROCRED_TEST_DB        "sqlite" (default) or "postgres"
//   MICROCRED_TEST_POSTGRES_URL  PostgreSQL server for MICROCRED_TEST_DB=postgres
//                            (default: postgres://postgres@127.0.0.1:5432/test)
//   MICROCRED_TEST_OUTPUT    folder for artifacts (default: test-output/)

import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const outputDir = path.resolve(repoRoot, process.env.MICROCRED_TEST_OUTPUT || "test-output");
const logDir = path.join(outputDir, "logs", "browser");

const microcredBin = path.resolve(repoRoot, process.env.MICROCRED_BIN || "target/debug/microcred");
const testLmsBin = path.resolve(repoRoot, process.env.MICROCRED_TEST_LMS_BIN || "target/debug/test-lms");
const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

const CLIENT_ID = "microcred-browser-tests";
const DEPLOYMENT_ID = "browser-deployment-1";
const STARTUP_TIMEOUT_MS = 30_000;

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function slug(text) {
  return text.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase();
}

function requireExecutable(file, hint) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new Error(`${file} is missing or not executable. ${hint}`);
  }
}

/** Reads the first line a child process prints on stdout. */
function firstLine(child, description, logFile) {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      reject(new Error(`${description} printed nothing within ${STARTUP_TIMEOUT_MS} ms; see ${logFile}`));
    }, STARTUP_TIMEOUT_MS);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const end = buffered.indexOf("\n");
      if (end >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, end));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${description} exited (code ${code}, signal ${signal}) before it was ready; see ${logFile}`));
    });
  });
}

function readLog(file) {
  try {
    // tracing colours its output even in a file.
    return fs.readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
  } catch {
    return "";
  }
}

function tail(file, lines = 30) {
  const text = readLog(file).trimEnd();
  return text === "" ? "(no log)" : text.split("\n").slice(-lines).join("\n");
}

/** Returns the ERROR lines of a microcred log. */
export function serverErrors(file) {
  return readLog(file)
    .split("\n")
    .filter((line) => / ERROR /.test(line));
}

async function waitForHealth(url, child, logFile) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let exited = null;
  child.once("exit", (code, signal) => {
    exited = { code, signal };
  });
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(
        `microcred serve exited (code ${exited.code}, signal ${exited.signal}) before answering ${url}:\n${tail(logFile)}`,
      );
    }
    try {
      const response = await fetch(url);
      if (response.ok) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`microcred did not answer ${url} within ${STARTUP_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

/**
 * Starts an HTTP proxy on 127.0.0.1:`listenPort` that forwards every
 * request unchanged to 127.0.0.1 on the port set as `targetPort` of the
 * returned object (set it before the first request). For each request to
 * /lti/ it records the method, path, Cookie header and urlencoded form
 * fields, and the response's status, Location and Set-Cookie.
 */
function startRecordingProxy(listenPort) {
  const records = [];
  const target = { port: null };
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, "http://proxy");
    const record = url.pathname.startsWith("/lti/")
      ? { method: request.method, path: url.pathname, query: url.search, cookieHeader: request.headers.cookie ?? "" }
      : null;
    const chunks = [];
    if (record) {
      record.stateCookieSent = /(^|;\s*)microcred_state_[^=]*=[^;]/.test(record.cookieHeader);
      records.push(record);
    }
    const upstream = http.request(
      { host: "127.0.0.1", port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        if (record) {
          record.status = answer.statusCode;
          record.location = answer.headers.location;
          record.setCookie = answer.headers["set-cookie"] ?? [];
        }
        response.writeHead(answer.statusCode, answer.rawHeaders);
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => {
      if (!response.headersSent) {
        response.writeHead(502, { "content-type": "text/plain" });
      }
      response.end(`the recording proxy could not reach microcred: ${error.message}`);
    });
    request.on("data", (chunk) => {
      if (record) {
        chunks.push(chunk);
      }
    });
    request.on("end", () => {
      if (record) {
        record.form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("latin1")));
      }
    });
    request.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () => {
      resolve({
        records,
        set targetPort(port) {
          target.port = port;
        },
        /** The launch posts (POST /lti/launch) so far, in order. */
        launches: () => records.filter((record) => record.path === "/lti/launch" && record.method === "POST"),
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

function psql(url, sql) {
  return run("psql", ["--no-password", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--command", sql, url]);
}

/** Creates the database for one test and returns its URL and a function that drops it. */
async function createDatabase(workDir) {
  const kind = process.env.MICROCRED_TEST_DB || "sqlite";
  if (kind === "sqlite") {
    return { url: `sqlite://${path.join(workDir, "microcred.db")}?mode=rwc`, drop: async () => {} };
  }
  if (kind !== "postgres") {
    throw new Error(`MICROCRED_TEST_DB must be sqlite or postgres, got ${JSON.stringify(kind)}`);
  }
  const serverUrl = new URL(process.env.MICROCRED_TEST_POSTGRES_URL || DEFAULT_POSTGRES_URL);
  // The mc_test_ prefix lets scripts/test drop databases that a killed run left behind.
  const name = `mc_test_browser_${randomBytes(6).toString("hex")}`;
  await psql(serverUrl.href, `CREATE DATABASE ${name}`);
  const databaseUrl = new URL(serverUrl.href);
  databaseUrl.pathname = `/${name}`;
  return {
    url: databaseUrl.href,
    drop: async () => {
      await psql(serverUrl.href, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((error) => {
        console.error(`dropping the test database ${name} failed: ${error.message}`);
      });
    },
  };
}

function stop(child) {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Starts microcred and the test LMS for the test `name`.
 *
 * Returns `{ toolUrl, toolOrigin, lms, lmsOrigin, wire, serverLog,
 * courseUrl(params), close() }`, where `lms` is the JSON line the test LMS
 * printed (lms_url, auth_url, ...) and `wire` the recording proxy's records
 * of what reached microcred under /lti/.
 */
export async function startStack(name) {
  requireExecutable(microcredBin, "Build it with `cargo build --bin microcred -p microcred`.");
  requireExecutable(testLmsBin, "Build it with `cargo build -p microcred-testkit --bin test-lms`.");
  fs.mkdirSync(logDir, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `microcred-browser-${slug(name)}-`));
  const logPrefix = path.join(logDir, slug(name));
  const children = [];
  const cleanups = [];

  const serverLog = `${logPrefix}-microcred.log`;
  const close = async () => {
    // Show the server's errors next to the failures they explain.
    const errors = serverErrors(serverLog);
    if (errors.length > 0) {
      console.error(`microcred logged ${errors.length} error(s) during "${name}"; the last ones:\n${errors.slice(-5).join("\n")}`);
    }
    for (const child of children.reverse()) {
      await stop(child);
    }
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
    fs.rmSync(workDir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    const toolUrl = `http://localhost:${port}`;
    const wire = await startRecordingProxy(port);
    cleanups.push(wire.close);
    const serverPort = await freePort();
    wire.targetPort = serverPort;

    const lmsLog = `${logPrefix}-test-lms.log`;
    const lmsProcess = spawn(
      testLmsBin,
      ["--tool-url", toolUrl, "--client-id", CLIENT_ID, "--deployment-id", DEPLOYMENT_ID],
      { stdio: ["pipe", "pipe", fs.openSync(lmsLog, "w")] },
    );
    children.push(lmsProcess);
    const lms = JSON.parse(await firstLine(lmsProcess, "test-lms", lmsLog));

    const database = await createDatabase(workDir);
    cleanups.push(database.drop);
    const env = {
      ...process.env,
      MICROCRED__DATABASE__URL: database.url,
      MICROCRED__SERVER__BIND: `127.0.0.1:${serverPort}`,
      MICROCRED__SERVER__PUBLIC_URL: toolUrl,
      MICROCRED__STORAGE__PATH: path.join(workDir, "files"),
      MICROCRED__CATALOGUE__SAMPLES_PATH: path.join(repoRoot, "config", "catalogue"),
      MICROCRED__PASSBACK__ENABLED: "false",
      MICROCRED__LOG__FILTER: "info",
    };

    // Register the LMS before the server starts: the server caches the
    // origins allowed to frame it (Content-Security-Policy frame-ancestors).
    await run(
      microcredBin,
      [
        "platform", "add",
        "--issuer", lms.issuer,
        "--client-id", lms.client_id,
        "--deployment-id", lms.deployment_id,
        "--auth-url", lms.auth_url,
        "--token-url", lms.token_url,
        "--jwks-url", lms.jwks_url,
        // Its administrators may use the Registrations admin pages.
        "--manages-registrations",
      ],
      { env, cwd: repoRoot },
    ).catch((error) => {
      throw new Error(`microcred platform add failed: ${error.message}\n${error.stderr ?? ""}`);
    });

    const server = spawn(microcredBin, ["serve"], {
      env,
      cwd: repoRoot,
      stdio: ["ignore", fs.openSync(serverLog, "w"), fs.openSync(serverLog, "a")],
    });
    children.push(server);
    await waitForHealth(`http://127.0.0.1:${port}/healthz`, server, serverLog);

    return {
      toolUrl,
      toolOrigin: toolUrl,
      lms,
      lmsOrigin: new URL(lms.lms_url).origin,
      wire,
      serverLog,
      /** Returns the course page URL that starts a launch with these query parameters. */
      courseUrl(params = {}) {
        const url = new URL(lms.course_url);
        for (const [key, value] of Object.entries(params)) {
          if (value !== undefined && value !== null) {
            url.searchParams.set(key, String(value));
          }
        }
        return url.href;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
