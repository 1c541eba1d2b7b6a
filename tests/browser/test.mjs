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

let tmp, fixtureSite, longSite, server, browser;
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

const TYPES = { ".html": "text/html; charset=utf-8", ".json": "application/json", ".png": "image/png", ".svg": "image/svg+xml" };

function serve(dir) {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
      const file = path.join(dir, rel.endsWith("/") ? rel + "index.html" : rel);
      if (!file.startsWith(dir + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" });
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

  server = await serve(tmp);
  const { port } = server.address();
  origins.file = { base: (site) => pathToFileURL(site).href + "/", allowed: pathToFileURL(tmp).href + "/" };
  origins.http = {
    base: (site) => `http://127.0.0.1:${port}/${path.basename(site)}/`,
    allowed: `http://127.0.0.1:${port}/`,
  };
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A fresh context and page that record console errors, page errors and requests. */
async function open(url, options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC", ...options });
  const page = await context.newPage();
  const log = { errors: [], requests: [] };
  page.on("console", (m) => m.type() === "error" && log.errors.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => log.errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  context.on("request", (r) => log.requests.push(r.url()));
  await page.goto(url, { waitUntil: "load" });
  return { context, page, log };
}

async function withPage(url, options, fn) {
  const p = await open(url, options);
  try {
    return await fn(p.page, p.log);
  } finally {
    await p.context.close();
  }
}

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
          const foreign = log.requests.filter((r) => !r.startsWith(origins[kind].allowed) && !r.startsWith("data:"));
          assert.deepEqual(foreign, [], `${u} requested other origins`);
          // Nor does anything on the page point elsewhere.
          const refs = await page.evaluate(() =>
            Array.from(document.querySelectorAll("[href],[src]")).map((e) => e.href || e.src));
          const outside = refs.filter((r) => !r.startsWith(origins[kind].allowed) && !r.startsWith("data:"));
          assert.deepEqual(outside, [], `${u} links to other origins`);
          assert.equal(await page.getAttribute("html", "lang"), "en");
          assert.match(await page.getAttribute("link[rel=icon]", "href"), /^data:image\/svg\+xml,/);
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
        assert.match(page.url(), /\?q=exited$/);
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

test("screenshots of the master page and an environment page, desktop and phone, light and dark", async () => {
  for (const p of ["index.html", "demo-int.html"]) {
    for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      for (const colorScheme of ["light", "dark"]) {
        const file = path.join(ARTIFACTS, `${p.replace(".html", "")}-${label}-${colorScheme}.png`);
        await withPage(origins.http.base(fixtureSite) + p, { viewport, colorScheme, deviceScaleFactor: 1 }, (page) =>
          page.screenshot({ path: file, fullPage: true }));
        assert.ok(statSync(file).size > 5_000, file);
      }
    }
  }
});

test("the Nu HTML checker finds no errors", () => {
  const files = [...htmlFiles(fixtureSite).map((f) => path.join(fixtureSite, f)), ...htmlFiles(longSite).map((f) => path.join(longSite, f))];
  const r = run("java", ["-jar", VNU, "--errors-only", "--also-check-css", ...files]);
  assert.equal(r.status, 0, `vnu.jar:\n${r.stdout}${r.stderr}`);
  assert.equal((r.stdout + r.stderr).trim(), "");
});
