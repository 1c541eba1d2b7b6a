// The README's Jenkins job setup ("### The Jenkins job") against the Jenkinsfile:
// parameters and defaults, the environment, the agent label, the credentials id,
// the trigger, the timeout, the reports and artifacts, and a plugin named for
// every step the pipeline calls. Either one drifting fails the test; so does a
// step this test does not know (say which plugin brings it, here and in the
// README). No dependencies:
//
//   node --test tests/jenkins/test.mjs
//
// The lint (npm-groovy-lint, pinned in package-lock.json here) runs in scripts/test.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const README = readFileSync(path.join(ROOT, "README.md"), "utf8");
const JENKINSFILE = readFileSync(path.join(ROOT, "Jenkinsfile"), "utf8");

// Steps and directives that come with Jenkins and the Pipeline plugin itself.
const CORE = new Set([
  "pipeline", "agent", "label", "node", "any", "none", "triggers", "cron", "pollSCM", "options",
  "disableConcurrentBuilds", "timeout", "buildDiscarder", "logRotator", "parameters", "string",
  "booleanParam", "choice", "text", "password", "environment", "stages", "stage", "steps", "parallel",
  "when", "branch", "post", "always", "success", "failure", "unstable", "changed", "fixed", "regression",
  "aborted", "cleanup", "sh", "echo", "error", "script", "dir", "archiveArtifacts", "retry", "sleep",
  "checkout", "scm",
]);
// Steps (and credential binding classes) of other plugins, by plugin name as the
// README's plugin list gives it.
const PLUGINS = {
  timestamps: "Timestamper",
  withCredentials: "Credentials Binding",
  AmazonWebServicesCredentialsBinding: "CloudBees AWS Credentials",
  junit: "JUnit",
};

// ---------------------------------------------------------------------------
// The Jenkinsfile

/** The Groovy source with comments blanked and string contents kept apart:
 *  `code` has every string replaced by a placeholder `\u0000N\u0000`, `strings[N]` its text. */
function tokenize(src) {
  let code = "";
  const strings = [];
  let i = 0;
  while (i < src.length) {
    if (src.startsWith("//", i)) {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end;
      continue;
    }
    if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      assert.ok(end >= 0, "unterminated /* comment in the Jenkinsfile");
      i = end + 2;
      continue;
    }
    const quote = ["'''", '"""', "'", '"'].find((q) => src.startsWith(q, i));
    if (quote) {
      let j = i + quote.length;
      while (j < src.length && !src.startsWith(quote, j)) j += src[j] === "\\" ? 2 : 1;
      assert.ok(j < src.length, `unterminated string at offset ${i} of the Jenkinsfile`);
      strings.push(src.slice(i + quote.length, j));
      code += `\u0000${strings.length - 1}\u0000`;
      i = j + quote.length;
      continue;
    }
    code += src[i++];
  }
  return { code, strings };
}

/** The text between the bracket that opens at `open` and the one that closes it. */
function enclosed(code, open) {
  const pair = { "{": "}", "(": ")", "[": "]" }[code[open]];
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === code[open]) depth++;
    if (code[i] === pair && --depth === 0) return code.slice(open + 1, i);
  }
  throw new Error(`unclosed ${code[open]} in the Jenkinsfile`);
}

function block(code, name) {
  const m = new RegExp(`\\b${name}\\s*\\{`).exec(code);
  assert.ok(m, `the Jenkinsfile has no ${name} { } block`);
  return enclosed(code, m.index + m[0].length - 1);
}

/** `key: value` arguments of a call, values as strings (quotes removed) or raw words. */
function args(text, strings) {
  const out = {};
  for (const m of text.matchAll(/([$\w]+)\s*:\s*(\u0000(\d+)\u0000|[\w.]+)/g)) {
    out[m[1]] = m[3] !== undefined ? strings[Number(m[3])] : m[2];
  }
  return out;
}

export function readJenkinsfile(src) {
  const { code, strings } = tokenize(src);
  const str = (placeholder) => strings[Number(placeholder.replaceAll("\u0000", ""))];

  const params = [];
  const paramBlock = block(code, "parameters");
  for (const m of paramBlock.matchAll(/(\w+)\s*\(/g)) {
    const a = args(enclosed(paramBlock, m.index + m[0].length - 1), strings);
    assert.ok(a.name !== undefined, `a parameter without a name: ${m[1]}(…)`);
    params.push({ kind: m[1], name: a.name, default: a.defaultValue ?? "" });
  }

  const environment = [];
  for (const m of block(code, "environment").matchAll(/(\w+)\s*=\s*(\u0000\d+\u0000)/g)) {
    environment.push({ name: m[1], value: str(m[2]) });
  }

  const agent = /\bagent\s*\{\s*label\s*\(?\s*(\u0000\d+\u0000)/.exec(code);
  const cron = /\bcron\s*\(\s*(\u0000\d+\u0000)\s*\)/.exec(code);
  const timeout = /\btimeout\s*\(([^)]*)\)/.exec(code);
  const junit = /\bjunit\b([^\n]*)/.exec(code);
  const archive = /\barchiveArtifacts\b([^\n]*)/.exec(code);

  // Every call: `name(`, `name {`, or a command call at the start of a line (`sh '…'`, `junit a: …`).
  const steps = new Set();
  for (const m of code.matchAll(/(?<![\w.$])([A-Za-z_]\w*)\s*(?=[({])/g)) steps.add(m[1]);
  for (const m of code.matchAll(/^\s*([A-Za-z_]\w*)[ \t]+(?=\u0000|\w+\s*:)/gm)) steps.add(m[1]);
  for (const m of code.matchAll(/\$class\s*:\s*(\u0000\d+\u0000)/g)) steps.add(str(m[1]));

  return {
    params,
    environment,
    label: agent && str(agent[1]),
    credentials: [...code.matchAll(/\bcredentialsId\s*:\s*(\u0000\d+\u0000)/g)].map((m) => str(m[1])),
    cron: cron && str(cron[1]),
    timeout: timeout && args(timeout[1], strings),
    junit: junit && args(junit[1], strings).testResults,
    artifacts: archive ? args(archive[1], strings).artifacts.split(",").map((s) => s.trim()) : [],
    // The envdash options the playbook is given (dash_envdash_extra_args).
    flags: [...new Set(strings.flatMap((s) => [...s.matchAll(/"(--[a-z-]+)"/g)].map((m) => m[1])))],
    steps: [...steps].sort(),
  };
}

// ---------------------------------------------------------------------------
// The README

function section(md, heading) {
  const start = md.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README.md has no "${heading}" section`);
  const rest = md.slice(start + heading.length + 2);
  const end = rest.search(/^#{1,3} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The rows of the table whose header row is `header`, as arrays of cells. */
function table(text, header) {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.trim() === header);
  assert.ok(at >= 0, `no table "${header}" in the README's Jenkins section`);
  const rows = [];
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

const code = (cell) => {
  const m = /^`([^`]*)`$/.exec(cell);
  return m ? m[1] : cell === "empty" ? "" : null;
};

export function readReadme(md) {
  const text = section(md, "### The Jenkins job");
  const flat = text.replace(/\s+/g, " ");
  const params = table(text, "| parameter | default | meaning |").map(([name, def]) => ({
    name: code(name),
    default: code(def),
  }));
  const environment = table(text, "| variable | value | why |").map(([name, value]) => ({
    name: code(name),
    value: code(value),
  }));
  const plugins = /Plugins: ([^.]+)\./.exec(flat);
  return {
    text: flat,
    params,
    environment,
    label: /label `([^`]+)` in the Jenkinsfile/.exec(flat)?.[1] ?? null,
    credentials: [...flat.matchAll(/entry with id `([^`]+)`/g)].map((m) => m[1]),
    cron: /`cron\('([^']+)'\)`/.exec(flat)?.[1] ?? null,
    timeoutMinutes: /a (\d+)-minute timeout/.exec(flat)?.[1] ?? null,
    plugins: plugins ? plugins[1].split(",").map((p) => p.trim()) : [],
  };
}

// ---------------------------------------------------------------------------
// Both

/** Where the README and the Jenkinsfile disagree, in words. */
export function disagreements(md, groovy) {
  const r = readReadme(md);
  const j = readJenkinsfile(groovy);
  const out = [];
  const same = (what, readme, jenkinsfile) => {
    if (JSON.stringify(readme) !== JSON.stringify(jenkinsfile)) {
      out.push(`${what}: README says ${JSON.stringify(readme)}, the Jenkinsfile ${JSON.stringify(jenkinsfile)}`);
    }
  };
  same("parameters (name, default)", r.params, j.params.map(({ name, default: d }) => ({ name, default: d })));
  same(
    "environment",
    r.environment,
    j.environment.map(({ name, value }) => ({ name, value: value.replaceAll("${env.WORKSPACE}", "$WORKSPACE") })),
  );
  same("agent label", r.label, j.label);
  same("credentials ids", r.credentials, j.credentials);
  same("cron trigger", r.cron, j.cron);
  same("timeout", r.timeoutMinutes && { time: r.timeoutMinutes, unit: "MINUTES" }, j.timeout);
  for (const [what, value] of [["JUnit report", j.junit], ...j.artifacts.map((a) => ["archived", a])]) {
    if (!r.text.includes(`\`${value}\``)) out.push(`${what} ${value} is not in the README`);
  }
  for (const flag of j.flags) {
    if (!r.text.includes(`\`${flag}\``)) out.push(`the playbook runs envdash with ${flag}; the README does not say so`);
  }
  for (const step of j.steps) {
    if (CORE.has(step)) continue;
    const plugin = PLUGINS[step];
    if (!plugin) out.push(`step ${step}: which plugin brings it? (tests/jenkins/test.mjs, PLUGINS, and the README)`);
    else if (!r.plugins.includes(plugin)) out.push(`step ${step} needs the ${plugin} plugin; the README does not list it`);
  }
  return out;
}

test("the README's Jenkins job setup agrees with the Jenkinsfile", () => {
  const j = readJenkinsfile(JENKINSFILE);
  // What the parser found, so that a parser that finds nothing cannot pass.
  assert.deepEqual(j.params.map((p) => p.name), ["INVENTORY", "BUCKET", "PREFIX", "CONFIG", "ENVDASH_BIN"]);
  assert.equal(j.label, "master");
  assert.deepEqual(j.credentials, ["cwds-dash-s3"]);
  assert.ok(j.steps.includes("junit") && j.steps.includes("sh") && j.steps.includes("withCredentials"), j.steps);
  assert.deepEqual(j.flags, ["--junit", "--prometheus", "--badges"]);
  assert.deepEqual(disagreements(README, JENKINSFILE), []);
});

test("either one drifting is caught", () => {
  const replace = (text, from, to) => {
    assert.ok(text.includes(from), `${from} not found`);
    return text.replace(from, to);
  };
  const jenkinsfile = [
    [["defaultValue: 'cwds-env-dashboard'", "defaultValue: 'other-bucket'"], /parameters/],
    [["name: 'PREFIX'", "name: 'KEY_PREFIX'"], /parameters/],
    [["string(name: 'ENVDASH_BIN'", "string(name: 'RUST_LOG', defaultValue: '', description: ''),\n string(name: 'ENVDASH_BIN'"], /parameters/],
    [["label 'master'", "label 'built-in'"], /agent label/],
    [["credentialsId: 'cwds-dash-s3'", "credentialsId: 'dash-s3'"], /credentials ids/],
    [["AWS_REGION = 'us-west-2'", "AWS_REGION = 'eu-west-1'"], /environment/],
    [["cron('H/5 * * * *')", "cron('H/10 * * * *')"], /cron trigger/],
    [["time: 15", "time: 30"], /timeout/],
    [["'site/**, envs/**, reports/**'", "'site/**, envs/**, reports/**, logs/**'"], /archived logs/],
    [['"--badges",', '"--badges", "--fail-on", "unknown",'], /--fail-on/],
    [["junit allowEmptyResults", "slackSend channel: '#ops'\n            junit allowEmptyResults"], /step slackSend/],
  ];
  for (const [[from, to], expected] of jenkinsfile) {
    const found = disagreements(README, replace(JENKINSFILE, from, to));
    assert.ok(found.some((f) => expected.test(f)), `Jenkinsfile ${to}: ${JSON.stringify(found)}`);
  }
  const readme = [
    [["| `BUCKET` | `cwds-env-dashboard` |", "| `BUCKET` | empty |"], /parameters/],
    [["   Timestamper, JUnit.", "   Timestamper."], /needs the JUnit plugin/],
    [["label `master` in the Jenkinsfile", "label `built-in` in the Jenkinsfile"], /agent label/],
    [["| `ANSIBLE_FORCE_COLOR` | `false` |", "| `ANSIBLE_FORCE_COLOUR` | `false` |"], /environment/],
  ];
  for (const [[from, to], expected] of readme) {
    const found = disagreements(replace(README, from, to), JENKINSFILE);
    assert.ok(found.some((f) => expected.test(f)), `README ${to}: ${JSON.stringify(found)}`);
  }
});
