// envdash's pages in a real browser: Debian's Chromium driven by playwright-core,
// and the Nu HTML checker (vnu-jar) run with the machine's Java.
//
//   cd tests/browser && npm ci && node --test test.mjs
//
// ENVDASH_BIN: the envdash binary (default target/debug/envdash, which `cargo test`
// builds); ENVDASH_TEMPLATES: a template folder to render with (--templates), to try
// template changes without rebuilding; CHROMIUM: the browser (default
// /usr/bin/chromium). Screenshots go to
// target/browser-artifacts/. Nothing is skipped: without Chromium, Java or the
// binary every test fails.
//
// The pages are checked from file://, from a plain local HTTP server, and from one
// that sends Jenkins' Content-Security-Policy for archived files, as Jenkins does
// when people open the dashboard from a build.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const BIN = path.resolve(ROOT, process.env.ENVDASH_BIN || "target/debug/envdash");
const TEMPLATES = process.env.ENVDASH_TEMPLATES ? path.resolve(process.env.ENVDASH_TEMPLATES) : null;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const VNU = path.join(HERE, "node_modules/vnu-jar/build/dist/vnu.jar");
const ARTIFACTS = path.join(ROOT, "target/browser-artifacts");
const NOW = "2026-11-25T16:30:00Z";
// As the machine notes say: without the background-networking flags Chromium keeps
// trying to reach Google's servers, which this closed network refuses.
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 900 };

// A host, container and image name far longer than a phone is wide, and markup in
// names, for the layout checks.
const LONG_HOST = "a-very-long-host-name-without-any-natural-break-points-0123456789-abcdefghijklmnopqrstuvwxyz.example.internal";
const LONG_ENV = "an-environment-with-a-really-long-name-for-a-phone-screen";
const LONG_FILE = [
  LONG_HOST,
  "an_extremely_long_container_name_that_goes_on_and_on_and_on_forever_and_ever,Exited (137) 2 hours ago,registry.example.io/some/deeply/nested/repository/path/with/an/extremely-long-image-name:1.2.3-build.4567890-rc.1",
  "web<b>,Up 2 days (healthy),nginx:1.25",
  "short-host",
  "db,Restarting (1) 5 seconds ago,postgres:16",
  "",
].join("\n");

// What Jenkins sends with archived files (hudson.model.DirectoryBrowserSupport.CSP),
// exactly: no script at all, styles and images only from the page's own origin.
const JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';";
// The same with `allow-same-origin`, which current Jenkins documents as its default.
const JENKINS_CSP_SAME_ORIGIN = "sandbox allow-same-origin; default-src 'none'; img-src 'self'; style-src 'self';";

// Everything Jenkins' policy refuses, as envdash's pages once had it.
const CANARY = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="300"><title>canary</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%3E%3C/svg%3E">
<style>body{color:red}</style></head><body><p style="color:blue">canary</p><script>document.title = "ran";</script></body></html>`;

let tmp, fixtureSite, longSite, refreshSite, browser;
const servers = [];
const origins = {};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function render(input, out, extra = []) {
  if (TEMPLATES) extra = [...extra, "--templates", TEMPLATES];
  const r = run(BIN, ["render", "--input", input, "--out", out, ...extra], {
    env: { ...process.env, ENVDASH_NOW: NOW },
  });
  assert.equal(r.status, 0, `envdash render failed:\n${r.stderr}`);
}

function htmlFiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith(".html")).sort();
}

const TYPES = {
  ".html": "text/html; charset=utf-8", ".json": "application/json", ".png": "image/png", ".svg": "image/svg+xml",
  ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".xml": "application/atom+xml",
};

/** Serves `dir` on 127.0.0.1, with `headers` on every answer (as Jenkins adds its CSP to all). */
function serve(dir, headers = {}) {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
      const file = path.join(dir, rel.endsWith("/") ? rel + "index.html" : rel);
      if (!file.startsWith(dir + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream", ...headers });
      res.end(readFileSync(file));
    });
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
}

before(async () => {
  // Hard requirements: a missing tool is a failure, never a skip.
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install Debian's chromium (scripts/install-test-deps)`);
  const java = spawnSync("java", ["-version"], { encoding: "utf8" });
  assert.ok(!java.error && java.status === 0, `java not found or broken (${java.error?.message ?? java.stderr}): the Nu HTML checker needs a JRE 11+ (scripts/install-test-deps)`);
  assert.ok(existsSync(VNU), `${VNU} missing: run npm ci in tests/browser`);
  assert.ok(existsSync(BIN), `envdash binary ${BIN} missing: run cargo build (or set ENVDASH_BIN)`);

  tmp = mkdtempSync(path.join(os.tmpdir(), "envdash-browser-"));
  fixtureSite = path.join(tmp, "site");
  render(path.join(ROOT, "fixtures"), fixtureSite, ["--config", path.join(ROOT, "fixtures/envdash.toml")]);
  const longIn = path.join(tmp, "long-in");
  mkdirSync(longIn);
  writeFileSync(path.join(longIn, `${LONG_ENV}.txt`), LONG_FILE);
  longSite = path.join(tmp, "long");
  render(longIn, longSite);
  // A page that reloads itself every second, to see who does it.
  refreshSite = path.join(tmp, "refresh");
  render(longIn, refreshSite, ["--refresh", "1"]);
  // The canary: what the pages were before they were made for Jenkins, so that the
  // policy checks are seen to catch what they look for.
  mkdirSync(path.join(tmp, "canary"));
  writeFileSync(path.join(tmp, "canary/index.html"), CANARY);

  origins.file = { base: (site) => pathToFileURL(site).href + "/", allowed: pathToFileURL(tmp).href + "/" };
  // A plain local server, and one with each of Jenkins' policies.
  for (const [name, policy] of [["http", null], ["jenkins", JENKINS_CSP], ["jenkins-same-origin", JENKINS_CSP_SAME_ORIGIN]]) {
    const s = await serve(tmp, policy ? { "content-security-policy": policy } : {});
    servers.push(s);
    const { port } = s.address();
    origins[name] = { base: (site) => `http://127.0.0.1:${port}/${path.basename(site)}/`, allowed: `http://127.0.0.1:${port}/`, policy };
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  for (const s of servers) await new Promise((r) => s.close(r));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Whether a failed request is Chromium cancelling the page's icon: it fetches the icon
 *  after the load and drops the fetch (net::ERR_ABORTED) when the page reloads or closes
 *  first, which says nothing about the page. Any other failure, of the icon too, counts. */
const cancelledIcon = (r) => r.failure()?.errorText === "net::ERR_ABORTED" && /\/assets\/favicon\.svg\?v=/.test(r.url());

/** A fresh context and page that record console errors, page errors and requests. */
async function open(url, options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC", ...options });
  const page = await context.newPage();
  const log = { errors: [], requests: [] };
  page.on("console", (m) => m.type() === "error" && log.errors.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => cancelledIcon(r) || log.errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  context.on("request", (r) => log.requests.push(r.url()));
  await page.goto(url, { waitUntil: "load" });
  return { context, page, log };
}

/** Runs `fn(page, log, response)` on a page that `opener` opened, then closes its context. */
async function withOpened(opener, url, options, fn) {
  const p = await opener(url, options);
  try {
    return await fn(p.page, p.log, p.response);
  } finally {
    await p.context.close();
  }
}

const withPage = (url, options, fn) => withOpened(open, url, options, fn);

const visibleRows = (page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll("section.host tbody tr:not(.logs)"))
      .filter((r) => r.checkVisibility())
      .map((r) => r.textContent));

const luminance = ([r, g, b]) => {
  const c = [r, g, b].map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
};
const rgb = (css) => css.match(/[\d.]+/g).slice(0, 3).map(Number);

for (const kind of ["file", "http"]) {
  describe(`from ${kind}://`, () => {
    const url = (page, site = fixtureSite) => origins[kind].base(site) + page;

    test("every page loads without console errors, and nothing leaves the page's origin", async () => {
      const pages = [...htmlFiles(fixtureSite).map((f) => url(f)), ...htmlFiles(longSite).map((f) => url(f, longSite))];
      assert.ok(pages.length >= 12, `${pages.length} pages`);
      for (const u of pages) {
        await withPage(u, {}, async (page, log) => {
          assert.deepEqual(log.errors, [], u);
          assert.ok(log.requests.includes(u), `the page's own request was not seen: ${log.requests}`);
          const foreign = log.requests.filter((r) => !r.startsWith(origins[kind].allowed));
          assert.deepEqual(foreign, [], `${u} requested other origins`);
          // Nor does anything on the page point elsewhere.
          const refs = await page.evaluate(() =>
            Array.from(document.querySelectorAll("[href],[src]")).map((e) => e.href || e.src));
          const outside = refs.filter((r) => !r.startsWith(origins[kind].allowed));
          assert.deepEqual(outside, [], `${u} links to other origins`);
          assert.equal(await page.getAttribute("html", "lang"), "en");
          // Styles, icon and script are files of the site, beside the pages.
          assert.match(await page.getAttribute("link[rel=icon]", "href"), /^assets\/favicon\.svg\?v=[0-9a-f]{8}$/);
          assert.match(await page.getAttribute("link[rel=stylesheet]", "href"), /^assets\/envdash\.css\?v=[0-9a-f]{8}$/);
          assert.match(await page.getAttribute("script", "src"), /^assets\/envdash\.js\?v=[0-9a-f]{8}$/);
          assert.ok(log.requests.some((r) => r.includes("/assets/envdash.css?v=")), "the stylesheet was loaded");
          assert.ok(log.requests.some((r) => r.includes("/assets/envdash.js?v=")), "the script was loaded");
        });
      }
    });

    test("the filter narrows rows as you type, and clearing it brings them back", async () => {
      await withPage(url("demo-int.html"), {}, async (page) => {
        const all = await visibleRows(page);
        assert.equal(all.length, 21);
        const box = page.locator("#filter");
        assert.ok(await box.isVisible(), "the filter box shows when script runs");

        await box.pressSequentially("logspo");
        let rows = await visibleRows(page);
        assert.equal(rows.length, 7, rows.join("\n"));
        assert.ok(rows.every((r) => r.includes("logspout")));
        assert.equal(await page.textContent("#filter-count"), "7 of 21 containers");

        await box.fill("cals_api");
        rows = await visibleRows(page);
        assert.equal(rows.length, 2);
        // Sections without a match are hidden, so only hosts that matter stay.
        const hosts = await page.locator("section.host:visible").count();
        assert.equal(hosts, 2);

        await box.fill("no-such-container-anywhere");
        assert.equal((await visibleRows(page)).length, 0);
        assert.equal(await page.textContent("#filter-count"), "0 of 21 containers");

        // A host's name keeps all of its rows.
        await box.fill("app-2.demo-int");
        rows = await visibleRows(page);
        assert.equal(rows.length, 3, rows.join("\n"));

        await box.fill("");
        assert.equal((await visibleRows(page)).length, 21);
        assert.equal(await page.locator("section.host:visible").count(), 8);
        assert.equal(await page.textContent("#filter-count"), "");
      });
    });

    test("what is typed in the filter survives the page's own reload", async () => {
      await withPage(url("demo-int.html"), {}, async (page, log) => {
        await page.locator("#filter").pressSequentially("exited");
        // The page's own address, read in the page: page.url() is Playwright's copy,
        // told of each history.replaceState a moment later, and may still lag a key.
        assert.match(await page.evaluate(() => location.href), /\?q=exited$/);
        await page.reload();
        assert.equal(await page.inputValue("#filter"), "exited");
        const rows = await visibleRows(page);
        assert.equal(rows.length, 2, rows.join("\n"));
        assert.deepEqual(log.errors, []);
      });
    });

    test("dark mode follows prefers-color-scheme", async () => {
      for (const p of ["index.html", "demo-int.html", "versions.html"]) {
        const bg = {};
        for (const colorScheme of ["light", "dark"]) {
          bg[colorScheme] = await withPage(url(p), { colorScheme }, (page) =>
            page.evaluate(() => getComputedStyle(document.body).backgroundColor));
        }
        assert.ok(luminance(rgb(bg.dark)) < 0.05, `${p}: dark background is ${bg.dark}`);
        assert.ok(luminance(rgb(bg.light)) > 0.85, `${p}: light background is ${bg.light}`);
      }
    });

    test("nothing overflows a 360 px phone screen; the version matrix scrolls in its own box", async () => {
      const pages = [url("index.html"), url("demo-int.html"), url("qa.html"), url("integration.html"), url("versions.html"),
        url("index.html", longSite), url(`${LONG_ENV}.html`, longSite)];
      for (const u of pages) {
        for (const colorScheme of ["light", "dark"]) {
          await withPage(u, { viewport: PHONE, colorScheme }, async (page) => {
            const w = await page.evaluate(() => ({
              doc: document.documentElement.scrollWidth,
              body: document.body.scrollWidth,
              // Elements that stick out of the viewport without a scrolling box around them.
              out: Array.from(document.querySelectorAll("body *"))
                .filter((e) => {
                  const r = e.getBoundingClientRect();
                  if (r.width === 0 || r.right <= innerWidth + 0.5) return false;
                  for (let p = e.parentElement; p; p = p.parentElement) {
                    if (/(auto|scroll|hidden)/.test(getComputedStyle(p).overflowX)) return false;
                  }
                  return true;
                })
                .map((e) => e.tagName + "." + e.className),
            }));
            assert.ok(w.doc <= PHONE.width, `${u}: page is ${w.doc} px wide`);
            assert.ok(w.body <= PHONE.width, `${u}: body is ${w.body} px wide`);
            assert.deepEqual(w.out, [], `${u}: elements beyond the right edge`);
          });
        }
      }
      await withPage(url("versions.html"), { viewport: PHONE }, async (page) => {
        const m = await page.evaluate(() => {
          const box = document.querySelector(".matrix");
          return { scroll: box.scrollWidth, client: box.clientWidth, overflow: getComputedStyle(box).overflowX };
        });
        assert.ok(m.scroll > m.client && m.overflow === "auto", `matrix ${JSON.stringify(m)}`);
        // The service column stays in view when the matrix is scrolled sideways.
        await page.evaluate(() => { document.querySelector(".matrix").scrollLeft = 400; });
        const x = await page.evaluate(() => document.querySelector(".matrix tbody th").getBoundingClientRect().left);
        assert.ok(x >= 0 && x < 40, `service column at x=${x}`);
      });
    });

    test("without script the pages are complete: every row shows, the filter box does not", async () => {
      await withPage(url("demo-int.html"), { javaScriptEnabled: false }, async (page, log) => {
        assert.equal((await visibleRows(page)).length, 21);
        assert.equal(await page.locator(".filter").isVisible(), false);
        assert.equal(await page.locator("section.host").count(), 8);
        assert.deepEqual(log.errors, []);
      });
      await withPage(url("index.html"), { javaScriptEnabled: false }, async (page) => {
        assert.equal(await page.locator(".card").count(), 10);
        assert.equal(await page.locator("#page-stale").isVisible(), false);
        // A page that cannot reload itself does not say it does.
        assert.doesNotMatch(await page.locator("footer").innerText(), /reloads/);
      });
      await withPage(url("index.html"), {}, async (page) => {
        assert.match(await page.locator("footer").innerText(), /this page reloads every 5 min$/);
      });
    });

    test("exit codes are explained on hover (and in words beside them); hosts have anchors", async () => {
      await withPage(url("demo-int.html"), {}, async (page) => {
        const row = page.locator("tbody tr", { hasText: "Exited (137)" });
        assert.equal(await row.count(), 1);
        const cell = row.locator("td[title]");
        assert.equal(await cell.getAttribute("title"), "exit code 137: killed (SIGKILL), often out of memory");
        assert.match(await cell.textContent(), /often out of memory/);
        assert.match(await row.getAttribute("class"), /problem/);
        assert.match(await row.textContent(), /✖ exited/, "the state is a word and an icon, not a colour alone");
        // Hosts have anchors named after them, listed problems first at the top.
        const jump = await page.locator(".jump a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
        assert.deepEqual(jump.slice(0, 2), ["#host-app-2.demo-int.cwds.example.io", "#host-api-2.demo-int.cwds.example.io"]);
        await page.click(".jump a >> nth=1");
        assert.ok(await page.locator("section.host:target").textContent().then((t) => t.includes("cals_api")));
      });
    });

    test("a problem says why in words, and its last log lines open from a collapsed block", async () => {
      for (const viewport of [DESKTOP, PHONE]) {
        await withPage(url("integration.html"), { viewport }, async (page, log) => {
          const row = page.locator("tbody tr:not(.logs)", { hasText: "elasticsearch" }).first();
          assert.match(await row.textContent(), /✖ out of memory/);
          assert.match(await row.locator("small.reason").textContent(), /^killed: out of memory at 16:05 UTC after 5 days up$/);
          const block = page.locator("tr.logs details", { hasText: "Last log lines of elasticsearch" });
          const pre = block.locator("pre");
          assert.equal(await pre.isVisible(), false, "collapsed until asked for");
          await block.locator("summary").click();
          assert.equal(await pre.isVisible(), true);
          assert.match(await pre.textContent(), /Data too large/);
          const style = await pre.evaluate((e) => ({ font: getComputedStyle(e).fontFamily, right: e.getBoundingClientRect().right }));
          assert.match(style.font, /mono/i, "log lines in a monospace font");
          assert.ok(style.right <= viewport.width, `the log block ends at ${style.right} px, past the page`);
          assert.deepEqual(log.errors, []);
        });
      }
      // The filter keeps a container's log lines with its row.
      await withPage(url("integration.html"), {}, async (page) => {
        await page.locator("#filter").fill("cans_api");
        assert.equal(await page.textContent("#filter-count"), "2 of 21 containers");
        assert.equal(await page.locator("tr.logs:visible").count(), 1);
        await page.locator("#filter").fill("intake_api");
        assert.equal(await page.locator("tr.logs:visible").count(), 0);
      });
    });

    test("times are UTC on the page and the reader's local time on hover", async () => {
      await withPage(url("index.html"), { timezoneId: "Asia/Tokyo" }, async (page) => {
        const times = await page.evaluate(() =>
          Array.from(document.querySelectorAll("time[datetime]")).map((t) => ({ text: t.textContent, title: t.title, at: t.dateTime })));
        assert.ok(times.length >= 12, `${times.length} <time> elements`);
        for (const t of times) {
          assert.match(t.text, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/, JSON.stringify(t));
          assert.match(t.title, /GMT\+9 \(your time\)$/, JSON.stringify(t));
        }
        const run = times.find((t) => t.at === NOW);
        assert.ok(run, "the run's time is on the page");
        assert.equal(run.text, "2026-11-25 16:30 UTC");
        assert.match(run.title, /^Nov 26, 2026, 01:30 AM GMT\+9/);
      });
    });
  });
}

/**
 * Opens `url` in a fresh context and records, through the DevTools protocol, every
 * message Chromium gives about what the page was refused: its log (CSP and sandbox
 * refusals are logged there, source "security" or "other"), the issues of the
 * Audits domain (a ContentSecurityPolicyIssue for each violation), console
 * messages, page errors and failed requests. Under `sandbox` no script of the page
 * runs, so its own `securitypolicyviolation` events cannot be used.
 */
async function openUnderPolicy(url, options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC", ...options });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  // `sandboxed`: the one refusal a page made for the policy is meant to get, its own
  // script not run (sandbox without allow-scripts); the script only adds, so the
  // page is complete without it. Chromium logs it twice (log and console).
  const log = { refusals: [], sandboxed: [], requests: [], loads: 0 };
  const ownScriptBlocked = (text) =>
    text.startsWith(`Blocked script execution in '${url.split(/[?#]/)[0]}`) &&
    text.endsWith("' because the document's frame is sandboxed and the 'allow-scripts' permission is not set.");
  const refused = (what, text) => (ownScriptBlocked(text) ? log.sandboxed : log.refusals).push(`${what}: ${text}`);
  cdp.on("Log.entryAdded", ({ entry }) => {
    if (entry.level === "error" || entry.level === "warning" || ["security", "violation"].includes(entry.source)) {
      refused(`log (${entry.source}, ${entry.level})`, entry.text);
    }
  });
  cdp.on("Audits.issueAdded", ({ issue }) => log.refusals.push(`issue ${issue.code}: ${JSON.stringify(issue.details)}`));
  await cdp.send("Log.enable");
  await cdp.send("Audits.enable");
  page.on("console", (m) => ["error", "warning"].includes(m.type()) && refused(`console ${m.type()}`, m.text()));
  page.on("pageerror", (e) => log.refusals.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => cancelledIcon(r) || log.refusals.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("load", () => log.loads++);
  context.on("request", (r) => log.requests.push(r.url()));
  const response = await page.goto(url, { waitUntil: "load" });
  // Issues and log entries arrive a moment after the load; a round trip flushes them.
  await cdp.send("Runtime.evaluate", { expression: "1" }).catch(() => {});
  await page.waitForTimeout(200);
  return { context, page, log, response };
}

const withPolicyPage = (url, options, fn) => withOpened(openUnderPolicy, url, options, fn);

/** `rgb(r, g, b)` of `#rrggbb`, as getComputedStyle gives colours. */
const cssRgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(", ")})`;

/** The light scheme's colours, as the site's stylesheet defines them (`--bad` → `rgb(…)`). */
function stylesheetColours(site) {
  const css = readFileSync(path.join(site, "assets/envdash.css"), "utf8");
  const root = css.match(/:root\{([^}]*)\}/)[1];
  return Object.fromEntries([...root.matchAll(/--([\w-]+):(#[0-9a-f]{6})/g)].map(([, name, hex]) => [name, cssRgb(hex)]));
}

test("the policy check sees what Jenkins' policy refuses (a page made the old way)", async () => {
  await withPolicyPage(origins.jenkins.base(path.join(tmp, "canary")) + "index.html", {}, async (page, log, response) => {
    assert.equal(response.headers()["content-security-policy"], JENKINS_CSP);
    const all = log.refusals.join("\n");
    assert.match(all, /inline style/i, all);
    assert.match(all, /refresh/i, `the refused <meta http-equiv=refresh> is seen:\n${all}`);
    assert.notEqual(await page.title(), "ran", "no script runs under sandbox");
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).color), "rgb(255, 0, 0)");
  });
});

for (const [name, label] of [["jenkins", "Jenkins' Content-Security-Policy"], ["jenkins-same-origin", "Jenkins' policy with allow-same-origin"]]) {
  describe(`under ${label}`, () => {
    const url = (page, site = fixtureSite) => origins[name].base(site) + page;

    test("every page shows without a single refusal, styled, nothing from elsewhere", async () => {
      const pages = [...htmlFiles(fixtureSite).map((f) => url(f)), ...htmlFiles(longSite).map((f) => url(f, longSite))];
      assert.ok(pages.length >= 12, `${pages.length} pages`);
      const light = stylesheetColours(fixtureSite);
      for (const u of pages) {
        await withPolicyPage(u, {}, async (page, log, response) => {
          assert.equal(response.headers()["content-security-policy"], origins[name].policy);
          assert.deepEqual(log.refusals, [], u);
          // What is refused is the page's script, as meant: the sandbox runs none.
          assert.ok(log.sandboxed.length > 0, `${u}: its script was not seen refused: ${log.sandboxed}`);
          assert.deepEqual(log.requests.filter((r) => !r.startsWith(origins[name].allowed)), [], `${u} requested other origins`);
          assert.ok(log.requests.some((r) => r.includes("/assets/envdash.css?v=")), `${u}: the stylesheet was loaded`);
          const s = await page.evaluate(() => ({
            bg: getComputedStyle(document.body).backgroundColor,
            font: getComputedStyle(document.body).fontFamily,
            meta: document.querySelectorAll("meta[http-equiv]").length,
            stale: document.querySelector("#page-stale").checkVisibility(),
            footer: document.querySelector("footer").innerText,
          }));
          assert.equal(s.bg, light.bg, `${u}: the stylesheet applies`);
          assert.match(s.font, /system-ui/);
          assert.equal(s.meta, 0, `${u} claims to refresh itself`);
          assert.equal(s.stale, false);
          assert.doesNotMatch(s.footer, /reloads/, `${u} says it reloads, and cannot`);
          // The icon is a file of the site, which img-src 'self' allows.
          const icon = await page.context().request.get(new URL(await page.getAttribute("link[rel=icon]", "href"), u).href);
          assert.equal(icon.status(), 200);
          assert.match(icon.headers()["content-type"], /^image\/svg\+xml/);
        });
      }
    });

    test("status colours come from the stylesheet: red problems, green OK", async () => {
      const light = stylesheetColours(fixtureSite);
      await withPolicyPage(url("index.html"), {}, async (page, log) => {
        const c = await page.evaluate(() => {
          const style = (sel) => getComputedStyle(document.querySelector(sel));
          return {
            problemCard: style(".card.s-problem").borderLeftColor,
            okCard: style(".card.s-ok").borderLeftColor,
            problemBadge: style(".card.s-problem .badge").color,
            problemBadgeBg: style(".card.s-problem .badge").backgroundColor,
            okBadge: style(".card.s-ok .badge").color,
          };
        });
        assert.deepEqual(c, { problemCard: light.bad, okCard: light.ok, problemBadge: light.bad, problemBadgeBg: light["bad-bg"], okBadge: light.ok });
        assert.deepEqual(log.refusals, []);
      });
      await withPolicyPage(url("demo-int.html"), {}, async (page, log) => {
        const c = await page.evaluate(() => {
          const row = document.querySelector("section.host tbody tr.problem");
          const ok = Array.from(document.querySelectorAll("section.host tbody tr")).find((r) => !r.className);
          return {
            problemRow: getComputedStyle(row.cells[0]).backgroundColor,
            problemEdge: getComputedStyle(row.cells[0]).boxShadow,
            problemState: getComputedStyle(row.querySelector("b.bad")).color,
            okState: getComputedStyle(ok.querySelector("b.ok")).color,
          };
        });
        assert.equal(c.problemRow, light["bad-bg"]);
        assert.ok(c.problemEdge.startsWith(light.bad), c.problemEdge);
        assert.equal(c.problemState, light.bad);
        assert.equal(c.okState, light.ok);
        assert.deepEqual(log.refusals, []);
      });
    });

    test("the filter box is hidden and inert, and every row shows", async () => {
      await withPolicyPage(url("demo-int.html"), {}, async (page, log) => {
        assert.equal(await page.locator(".filter").isVisible(), false);
        assert.equal(await page.locator("#filter").isVisible(), false);
        // Tab never lands on it: focus goes from the page's links, never into a box that does nothing.
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press("Tab");
          assert.notEqual(await page.evaluate(() => document.activeElement?.id), "filter");
        }
        assert.equal((await visibleRows(page)).length, 21);
        assert.equal(await page.locator("section.host:visible").count(), 8);
        assert.deepEqual(log.refusals, []);
      });
      // What was typed elsewhere (?q= in a shared link) filters nothing here: all rows show.
      await withPolicyPage(url("demo-int.html?q=logspout"), {}, async (page) => {
        assert.equal((await visibleRows(page)).length, 21);
      });
    });

    test("a page does not reload itself, and does not say it does", async () => {
      await withPolicyPage(url("index.html", refreshSite), {}, async (page, log) => {
        await page.waitForTimeout(2500);
        assert.equal(log.loads, 1, "the page reloaded under a sandbox");
        assert.doesNotMatch(await page.locator("footer").innerText(), /reloads/);
        assert.deepEqual(log.refusals, []);
      });
    });
  });
}

test("with script, the page reloads itself (as <meta http-equiv=refresh> did) and says so", async () => {
  await withPolicyPage(origins.http.base(refreshSite) + "index.html", {}, async (page, log) => {
    assert.match(await page.locator("footer").innerText(), /this page reloads every 1 s$/);
    // The reload is due 1 s after the load; a busy machine may take longer to do it, so
    // wait for it (up to 20 s) rather than count loads after a fixed sleep.
    const started = Date.now();
    while (log.loads < 2 && Date.now() - started < 20000) await page.waitForTimeout(100);
    assert.ok(log.loads >= 2, `${log.loads} loads in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});

test("text has WCAG AA contrast (4.5:1, 3:1 when large) in both schemes", async () => {
  const pages = ["index.html", "demo-int.html", "qa.html", "perf.html", "integration.html", "versions.html"];
  for (const p of pages) {
    for (const colorScheme of ["light", "dark"]) {
      for (const viewport of [DESKTOP, PHONE]) {
        const bad = await withPage(origins.http.base(fixtureSite) + p, { colorScheme, viewport }, (page) =>
          page.evaluate(() => {
            const parse = (c) => c.match(/[\d.]+/g).map(Number);
            const lum = ([r, g, b]) => {
              const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
              return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            const background = (e) => {
              for (; e; e = e.parentElement) {
                const c = parse(getComputedStyle(e).backgroundColor);
                if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
              }
              return [255, 255, 255];
            };
            const out = [];
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              const e = n.parentElement;
              if (!n.textContent.trim() || !e.checkVisibility() || e.closest(".vh")) continue;
              const s = getComputedStyle(e);
              const [a, b] = [lum(parse(s.color)), lum(background(e))];
              const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
              const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
              const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
              if (ratio < need) out.push(`${ratio.toFixed(2)} < ${need}: "${n.textContent.trim().slice(0, 40)}" (${s.color} on ${background(e)})`);
            }
            return [...new Set(out)];
          }));
        assert.deepEqual(bad, [], `${p} ${colorScheme} ${viewport.width}px`);
      }
    }
  }
});

test("printing: light colours, no filter or navigation, and a PDF as an artifact", async () => {
  await withPage(origins.http.base(fixtureSite) + "demo-int.html", { colorScheme: "dark" }, async (page) => {
    await page.emulateMedia({ media: "print", colorScheme: "dark" });
    const s = await page.evaluate(() => ({
      bg: getComputedStyle(document.body).backgroundColor,
      filter: document.querySelector(".filter").checkVisibility(),
      nav: document.querySelector("header nav").checkVisibility(),
      rows: document.querySelectorAll("section.host tbody tr").length,
    }));
    assert.ok(luminance(rgb(s.bg)) > 0.85, `printed background ${s.bg}`);
    assert.equal(s.filter, false);
    assert.equal(s.nav, false);
    const pdf = await page.pdf({ path: path.join(ARTIFACTS, "demo-int.pdf"), format: "A4", printBackground: true });
    assert.ok(pdf.length > 10_000);
  });
});

test("screenshots of the master page and environment pages, desktop and phone, light and dark", async () => {
  // integration.html has the inspect and log columns: its problem rows give the
  // reason in words and a log block, shown opened in the "-logs" shots.
  for (const p of ["index.html", "demo-int.html", "integration.html"]) {
    for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      for (const colorScheme of ["light", "dark"]) {
        for (const open of p === "integration.html" ? [false, true] : [false]) {
          const file = path.join(ARTIFACTS, `${p.replace(".html", "")}-${label}-${colorScheme}${open ? "-logs" : ""}.png`);
          await withPage(origins.http.base(fixtureSite) + p, { viewport, colorScheme, deviceScaleFactor: 1 }, async (page) => {
            if (open) {
              const opened = await page.evaluate(() => {
                const blocks = document.querySelectorAll("tr.logs details");
                blocks.forEach((d) => { d.open = true; });
                return blocks.length;
              });
              assert.ok(opened > 0, "no log block to open on integration.html");
            }
            await page.screenshot({ path: file, fullPage: true });
          });
          assert.ok(statSync(file).size > 5_000, file);
        }
      }
    }
  }
});

test("the Nu HTML checker finds no errors", () => {
  const files = [...htmlFiles(fixtureSite).map((f) => path.join(fixtureSite, f)), ...htmlFiles(longSite).map((f) => path.join(longSite, f)),
    path.join(fixtureSite, "assets/envdash.css"), path.join(fixtureSite, "assets/favicon.svg")];
  const r = run("java", ["-jar", VNU, "--errors-only", "--also-check-css", "--also-check-svg", ...files]);
  assert.equal(r.status, 0, `vnu.jar:\n${r.stdout}${r.stderr}`);
  assert.equal((r.stdout + r.stderr).trim(), "");
});
