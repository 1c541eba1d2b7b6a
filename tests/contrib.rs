//! `contrib/`: the Prometheus alerting rules, their promtool tests and the
//! Grafana dashboard, held to the metrics envdash really writes. The real
//! binary runs once on the fixtures, made to write every metric family (a
//! webhook notifier that answers, on tests/support/hooks.rs; an environment
//! whose file cannot be used; one whose data is stale); then every metric,
//! label and label value that a rule, a test series or a panel names must be
//! in that file. `promtool check rules` and `promtool test rules` run in
//! scripts/test beside this.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::hooks::Hooks;

/// Labels Prometheus adds when it scrapes node_exporter: not envdash's, but
/// a rule or a test series may name them.
const SCRAPE_LABELS: [&str; 2] = ["job", "instance"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn yaml(path: &str) -> Value {
    yaml_serde::from_str(&read(root().join(path))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn dashboard() -> Value {
    serde_json::from_str(&read(root().join("contrib/grafana/envdash.json"))).unwrap()
}

// ---------------------------------------------------------------------------
// What envdash writes

/// The metrics file of a run: per metric, per label, the values seen.
#[derive(Debug, Default)]
struct Written {
    families: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl Written {
    fn parse(text: &str) -> Written {
        let mut written = Written::default();
        for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let end = line.find(['{', ' ']).unwrap_or_else(|| panic!("not a sample: {line:?}"));
            let labels = written.families.entry(line[..end].to_owned()).or_default();
            if line[end..].starts_with('{') {
                let close = line.rfind('}').unwrap_or_else(|| panic!("no closing brace: {line:?}"));
                let matchers = matchers(&line[end + 1..close]).unwrap_or_else(|e| panic!("{e}: {line:?}"));
                for m in matchers {
                    labels.entry(m.label).or_default().insert(m.value);
                }
            }
        }
        written
    }

    /// Every label name envdash writes on any metric.
    fn all_labels(&self) -> BTreeSet<&str> {
        self.families.values().flat_map(|l| l.keys().map(String::as_str)).collect()
    }
}

/// The fixtures as envdash sees them in production: a notifier that gets its
/// message through, an environment whose file is empty (unknown) and one whose
/// listing was gathered two hours ago (stale).
fn written() -> &'static Written {
    static WRITTEN: OnceLock<Written> = OnceLock::new();
    WRITTEN.get_or_init(|| {
        let hooks = Hooks::start();
        let dir = tempfile::tempdir().unwrap();
        let (input, site, prom) = (dir.path().join("envs"), dir.path().join("site"), dir.path().join("envdash.prom"));
        fs::create_dir(&input).unwrap();
        for entry in fs::read_dir(root().join("fixtures")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "txt") {
                fs::copy(&path, input.join(path.file_name().unwrap())).unwrap();
            }
        }
        fs::write(input.join("broken.txt"), b"").unwrap();
        let two_hours_ago = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 7200).unwrap();
        fs::write(
            input.join("old.txt"),
            format!("host,name,image,state,status,gathered_at\nh1.old.example.io,web,nginx:1,running,Up 3 days,{two_hours_ago}\n"),
        )
        .unwrap();
        // An environment whose problems a known issue explains (all of them: the
        // fixtures' [[expect]] hosts are missing too): status="known".
        fs::write(
            input.join("calm.txt"),
            "host,name,image,state,status\nh1.calm.example.io,batch,busybox:1,exited,Exited (1) 2 hours ago\n",
        )
        .unwrap();
        let fixtures_config = read(root().join("fixtures/envdash.toml"));
        assert!(fixtures_config.contains("\nstale_after = \"off\"\n"), "fixtures/envdash.toml no longer turns staleness off");
        let config = dir.path().join("envdash.toml");
        fs::write(
            &config,
            format!(
                "{}\n[[known]]\nenvironment = \"calm\"\ntext = \"Being rebuilt (OPS-42)\"\n\n[[notify]]\nkind = \"webhook\"\nname = \"oncall\"\nurl = \"{}\"\n",
                fixtures_config.replace("\nstale_after = \"off\"\n", "\nstale_after = \"15m\"\n"),
                hooks.url("/hook")
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_envdash"))
            .env_remove("RUST_LOG")
            .env_remove("ENVDASH_NOW")
            .env_remove("ENVDASH_BUCKET")
            .env_remove("ENVDASH_CONFIG")
            .arg("run")
            .arg("--input")
            .arg(&input)
            .arg("--out")
            .arg(&site)
            .arg("--config")
            .arg(&config)
            .arg("--prometheus")
            .arg(&prom)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "envdash run failed:\n{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(hooks.at("/hook").len(), 1, "the webhook got no message:\n{stderr}");
        Written::parse(&read(&prom))
    })
}

// ---------------------------------------------------------------------------
// What the rules and the dashboard name

/// One label matcher of a selector (`env=~"$env"`).
#[derive(Debug, Clone, PartialEq)]
struct Matcher {
    label: String,
    op: String,
    value: String,
}

/// A series selector in an expression: `envdash_host_up{env="prod"}`.
#[derive(Debug, Clone, PartialEq)]
struct Selector {
    metric: Option<String>,
    matchers: Vec<Matcher>,
}

/// What an expression names: its selectors and the labels of its `by`,
/// `without`, `on`, `ignoring`, `group_left` and `group_right` clauses.
#[derive(Debug, Default, PartialEq)]
struct Names {
    selectors: Vec<Selector>,
    grouping: Vec<String>,
}

const GROUPING: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
const KEYWORDS: [&str; 8] = ["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"];
/// Aggregations may be followed by `by (…)` before their parenthesis.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The end of the quoted string that starts at `i` (a PromQL or Go string).
fn skip_string(chars: &[char], i: usize) -> Result<usize, String> {
    let quote = chars[i];
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == '\\' && quote != '`' {
            j += 2;
            continue;
        }
        if chars[j] == quote {
            return Ok(j + 1);
        }
        j += 1;
    }
    Err("unterminated string".into())
}

fn unquote(s: &[char]) -> String {
    let mut out = String::new();
    let mut it = s[1..s.len() - 1].iter();
    while let Some(&c) = it.next() {
        if c == '\\' && s[0] != '`' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(&other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `}` that closes the `{` at `i`, past any `}` inside a quoted value.
fn closing_brace(chars: &[char], mut i: usize) -> Result<usize, String> {
    i += 1;
    while i < chars.len() {
        match chars[i] {
            '}' => return Ok(i),
            '"' | '\'' | '`' => i = skip_string(chars, i)?,
            _ => i += 1,
        }
    }
    Err("unclosed {".into())
}

fn next_significant(chars: &[char], mut i: usize) -> Option<char> {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    chars.get(i).copied()
}

/// The matchers between `{` and `}`: `label op "value"`, comma-separated.
fn matchers(inner: &str) -> Result<Vec<Matcher>, String> {
    let chars: Vec<char> = inner.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i == chars.len() {
            return Ok(out);
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        if start == i {
            return Err(format!("a label name expected in {{{inner}}}"));
        }
        let label: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let op_start = i;
        while i < chars.len() && matches!(chars[i], '=' | '!' | '~') {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        if !["=", "!=", "=~", "!~"].contains(&op.as_str()) {
            return Err(format!("no matcher operator after {label} in {{{inner}}}"));
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i == chars.len() || !matches!(chars[i], '"' | '\'' | '`') {
            return Err(format!("no quoted value for {label} in {{{inner}}}"));
        }
        let end = skip_string(&chars, i)?;
        out.push(Matcher { label, op, value: unquote(&chars[i..end]) });
        i = end;
    }
}

/// The selectors and grouping labels of a PromQL expression, which may hold
/// Grafana's `$variables`. Function and aggregation names, keywords, numbers,
/// durations, strings and range brackets are not metrics.
fn names(expr: &str) -> Result<Names, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Names::default();
    // The selector just read, which a `{` right after it belongs to.
    let mut open: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let selector = open.take();
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' | '\'' | '`' => i = skip_string(&chars, i)?,
            '[' => {
                i = chars[i..].iter().position(|&c| c == ']').map(|p| i + p + 1).ok_or("unclosed [")?;
            }
            '{' => {
                let close = closing_brace(&chars, i)?;
                let found = matchers(&chars[i + 1..close].iter().collect::<String>())?;
                match selector {
                    Some(s) => names.selectors[s].matchers = found,
                    None => names.selectors.push(Selector { metric: None, matchers: found }),
                }
                i = close + 1;
            }
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    i = chars[i..].iter().position(|&c| c == '}').map(|p| i + p + 1).ok_or("unclosed ${")?;
                } else {
                    while i < chars.len() && is_ident(chars[i]) {
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < chars.len() && is_ident(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let lower = word.to_ascii_lowercase();
                let next = next_significant(&chars, i);
                if GROUPING.contains(&lower.as_str()) {
                    if next == Some('(') {
                        let open_paren = chars[i..].iter().position(|&c| c == '(').unwrap() + i;
                        let close = chars[open_paren..]
                            .iter()
                            .position(|&c| c == ')')
                            .map(|p| open_paren + p)
                            .ok_or("unclosed (")?;
                        let list: String = chars[open_paren + 1..close].iter().collect();
                        names
                            .grouping
                            .extend(list.split(',').map(str::trim).filter(|l| !l.is_empty()).map(String::from));
                        i = close + 1;
                    }
                } else if KEYWORDS.contains(&lower.as_str())
                    || next == Some('(')
                    || AGGREGATIONS.contains(&lower.as_str())
                {
                    // A keyword, a function call or an aggregation.
                } else {
                    names.selectors.push(Selector { metric: Some(word), matchers: Vec::new() });
                    open = Some(names.selectors.len() - 1);
                }
            }
            _ => i += 1,
        }
    }
    Ok(names)
}

/// One query to hold to what envdash writes, and where it comes from.
#[derive(Debug)]
struct Query {
    origin: String,
    expr: String,
    /// Labels a legend or a `label_values` query shows: they must be labels of
    /// the query's metrics.
    shown_labels: Vec<String>,
    /// Test series are the data itself: exactly the labels envdash writes.
    is_series: bool,
}

impl Query {
    fn new(origin: impl Into<String>, expr: &str) -> Query {
        Query { origin: origin.into(), expr: expr.to_owned(), shown_labels: Vec::new(), is_series: false }
    }
}

/// The queries in the annotations' templates: `printf "…%q…" … | query`.
fn template_queries(origin: &str, template: &str) -> Vec<Query> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(p) = rest.find("printf \"") {
        let after = &rest[p + "printf ".len()..];
        let chars: Vec<char> = after.chars().collect();
        let end = skip_string(&chars, 0).unwrap_or_else(|e| panic!("{origin}: {e}"));
        let format = unquote(&chars[..end]);
        rest = &after[chars[..end].iter().map(|c| c.len_utf8()).sum::<usize>()..];
        // Only a format piped into `query` within the same action is a query.
        if rest.split("}}").next().is_some_and(|action| action.contains("| query")) {
            out.push(Query::new(format!("{origin} (template query)"), &format.replace("%q", "\"$template\"")));
        }
    }
    out
}

fn rule_queries() -> Vec<Query> {
    let rules = yaml("contrib/prometheus/envdash-rules.yml");
    let mut out = Vec::new();
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).expect("alert or record");
            out.push(Query::new(format!("rule {name}"), rule["expr"].as_str().expect("expr")));
            for (key, template) in rule["annotations"].as_object().into_iter().flatten() {
                out.extend(template_queries(&format!("rule {name} annotation {key}"), template.as_str().unwrap()));
            }
        }
    }
    out
}

fn rule_test_queries() -> Vec<Query> {
    let tests = yaml("contrib/prometheus/envdash-rules.test.yml");
    let mut out = Vec::new();
    for test in tests["tests"].as_array().expect("tests") {
        let name = test["name"].as_str().unwrap_or("(unnamed)");
        for series in test["input_series"].as_array().into_iter().flatten() {
            let mut q = Query::new(format!("test {name:?} series"), series["series"].as_str().expect("series"));
            q.is_series = true;
            out.push(q);
        }
        for t in test["promql_expr_test"].as_array().into_iter().flatten() {
            out.push(Query::new(format!("test {name:?} promql_expr_test"), t["expr"].as_str().expect("expr")));
        }
    }
    out
}

fn legend_labels(legend: &str) -> Vec<String> {
    legend.split("{{").skip(1).filter_map(|s| s.split_once("}}")).map(|(label, _)| label.trim().to_owned()).collect()
}

fn panels(dashboard: &Value) -> Vec<&Value> {
    fn collect<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            collect(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    collect(&dashboard["panels"], &mut out);
    out
}

fn dashboard_queries(dashboard: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let origin = format!("panel {:?} target {}", panel["title"].as_str().unwrap_or(""), target["refId"]);
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{origin}: no expr"));
            let mut q = Query::new(origin, expr);
            q.shown_labels = legend_labels(target["legendFormat"].as_str().unwrap_or(""));
            out.push(q);
        }
    }
    for var in dashboard["templating"]["list"].as_array().into_iter().flatten().filter(|v| v["type"] == "query") {
        let origin = format!("variable {}", var["name"]);
        let query = var["query"]["query"].as_str().or(var["query"].as_str()).expect("a variable query");
        for text in [query, var["definition"].as_str().unwrap_or(query)] {
            let inner = text
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or_else(|| panic!("{origin}: only label_values(metric, label) is checked, not {text:?}"));
            let (selector, label) = inner.rsplit_once(',').unwrap_or_else(|| panic!("{origin}: {text:?}"));
            let mut q = Query::new(origin.clone(), selector);
            q.shown_labels = vec![label.trim().to_owned()];
            out.push(q);
        }
    }
    out
}

/// Everything in `queries` that envdash does not write: metrics, labels on
/// them, and values of `label="value"` matchers that are neither variables
/// nor seen in the run.
fn problems(written: &Written, queries: &[Query]) -> Vec<String> {
    let all_labels = written.all_labels();
    let mut out = Vec::new();
    for q in queries {
        let names = match names(&q.expr) {
            Ok(n) => n,
            Err(e) => {
                out.push(format!("{}: cannot read {:?}: {e}", q.origin, q.expr));
                continue;
            }
        };
        if names.selectors.is_empty() {
            out.push(format!("{}: {:?} names no metric", q.origin, q.expr));
        }
        let mut labels_here: BTreeSet<&str> = SCRAPE_LABELS.into_iter().collect();
        for s in &names.selectors {
            let Some(metric) = &s.metric else {
                out.push(format!("{}: a selector without a metric name cannot be checked: {:?}", q.origin, q.expr));
                continue;
            };
            let Some(labels) = written.families.get(metric) else {
                out.push(format!("{}: envdash writes no metric {metric}", q.origin));
                continue;
            };
            labels_here.extend(labels.keys().map(String::as_str));
            for m in &s.matchers {
                if SCRAPE_LABELS.contains(&m.label.as_str()) {
                    continue;
                }
                let Some(values) = labels.get(&m.label) else {
                    out.push(format!("{}: {metric} has no label {}", q.origin, m.label));
                    continue;
                };
                let literal = m.op == "=" && !m.value.contains('$');
                if literal && !q.is_series && !values.contains(&m.value) {
                    out.push(format!(
                        "{}: {metric}{{{}=\"{}\"}} never occurs; seen: {values:?}",
                        q.origin, m.label, m.value
                    ));
                }
            }
            if q.is_series {
                let given: BTreeSet<&str> =
                    s.matchers.iter().map(|m| m.label.as_str()).filter(|l| !SCRAPE_LABELS.contains(l)).collect();
                let expected: BTreeSet<&str> = labels.keys().map(String::as_str).collect();
                if given != expected {
                    out.push(format!("{}: {metric} has the labels {expected:?}, not {given:?}", q.origin));
                }
            }
        }
        for label in &names.grouping {
            if !all_labels.contains(label.as_str()) && !SCRAPE_LABELS.contains(&label.as_str()) {
                out.push(format!("{}: no metric of envdash has the label {label}", q.origin));
            }
        }
        for label in &q.shown_labels {
            if !labels_here.contains(label.as_str()) {
                out.push(format!("{}: shows the label {label}, which its metrics do not have", q.origin));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------

#[test]
fn the_run_writes_every_metric_family_envdash_has() {
    // Else a rule over a family this run happens not to write could not be checked.
    let mut sources = String::new();
    for entry in walkdir::WalkDir::new(root().join("src")) {
        let path = entry.unwrap().into_path();
        if path.extension().is_some_and(|x| x == "rs") {
            sources.push_str(&read(&path));
        }
    }
    // Metric names are the string literals `"envdash_…"` of the sources.
    let declared: BTreeSet<&str> = sources
        .split('"')
        .filter(|s| {
            s.len() > "envdash_".len()
                && s.starts_with("envdash_")
                && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
        .collect();
    let written: BTreeSet<&str> = written().families.keys().map(String::as_str).collect();
    assert!(declared.len() >= 20, "metric names in src/: {declared:?}");
    let missing: Vec<_> = declared.difference(&written).collect();
    assert!(missing.is_empty(), "the run on the fixtures wrote none of {missing:?}");
}

#[test]
fn rules_and_their_tests_name_only_what_envdash_writes() {
    let queries: Vec<Query> = rule_queries().into_iter().chain(rule_test_queries()).collect();
    assert!(queries.iter().filter(|q| q.origin.starts_with("rule ")).count() >= 7, "{queries:#?}");
    assert!(queries.iter().any(|q| q.is_series));
    let found = problems(written(), &queries);
    assert!(found.is_empty(), "contrib/prometheus names what envdash does not write:\n{}", found.join("\n"));
}

#[test]
fn the_dashboard_queries_only_what_envdash_writes() {
    let queries = dashboard_queries(&dashboard());
    assert!(queries.len() >= 15, "{queries:#?}");
    let found = problems(written(), &queries);
    assert!(
        found.is_empty(),
        "contrib/grafana/envdash.json queries what envdash does not write:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_panel_that_queries_what_envdash_does_not_write_is_caught() {
    let mut dash = dashboard();
    let wrong = [
        ("sum(envdash_container_problems)", "envdash writes no metric envdash_container_problems"),
        (r#"envdash_host_up{environment="prod"}"#, "envdash_host_up has no label environment"),
        (r#"count(envdash_environment_status{status="down"})"#, r#"{status="down"} never occurs"#),
        ("sum by (region) (envdash_environment_problems)", "no metric of envdash has the label region"),
        ("up", "envdash writes no metric up"),
    ];
    let targets: Vec<Value> = wrong
        .iter()
        .enumerate()
        .map(|(i, (expr, _))| serde_json::json!({"refId": format!("X{i}"), "expr": expr}))
        .collect();
    let legend = serde_json::json!({"refId": "L", "expr": "envdash_host_up", "legendFormat": "{{container}}"});
    dash["panels"].as_array_mut().unwrap().push(serde_json::json!({"title": "wrong", "targets": targets}));
    dash["panels"][1]["targets"].as_array_mut().unwrap().push(legend);
    let found = problems(written(), &dashboard_queries(&dash));
    for (_, message) in wrong {
        assert!(found.iter().any(|f| f.contains(message)), "{message:?} not reported:\n{}", found.join("\n"));
    }
    assert!(found.iter().any(|f| f.contains("shows the label container")), "{found:#?}");
    assert_eq!(found.len(), wrong.len() + 1, "{found:#?}");
}

#[test]
fn promql_names_are_told_from_functions_labels_and_variables() {
    let n = names(
        r#"sum by (env) (increase(envdash_container_restarts_total{env=~"$env", host!="a,b}"}[$__rate_interval]))
             / on (env) group_left (status) envdash_environment_status{status="ok"} > 0.5 or vector(1) # up
             unless max without(host) (time() - envdash_last_run_timestamp_seconds offset 5m) and bool 1e3"#,
    )
    .unwrap();
    let metrics: Vec<_> = n.selectors.iter().map(|s| s.metric.as_deref().unwrap()).collect();
    assert_eq!(
        metrics,
        ["envdash_container_restarts_total", "envdash_environment_status", "envdash_last_run_timestamp_seconds"]
    );
    assert_eq!(n.grouping, ["env", "env", "status", "host"]);
    assert_eq!(
        n.selectors[0].matchers,
        [
            Matcher { label: "env".into(), op: "=~".into(), value: "$env".into() },
            Matcher { label: "host".into(), op: "!=".into(), value: "a,b}".into() },
        ]
    );
    assert_eq!(n.selectors[1].matchers[0].value, "ok");
    assert!(names(r#"envdash_host_up{env="x"#).is_err());
    let templates = template_queries(
        "t",
        r#"{{ with printf "envdash_container_state{env=%q,host=%q}" $labels.env $labels.host | query }}{{ end }} {{ printf "%s" "x" }}"#,
    );
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].expr, r#"envdash_container_state{env="$template",host="$template"}"#);
}

/// Grid rectangles of the panels: (x, y, w, h).
fn grid(panel: &Value) -> (i64, i64, i64, i64) {
    let g = &panel["gridPos"];
    let n = |k: &str| g[k].as_i64().unwrap_or_else(|| panic!("panel {:?}: gridPos.{k}", panel["title"]));
    (n("x"), n("y"), n("w"), n("h"))
}

#[test]
fn the_dashboard_is_one_current_grafana_imports() {
    let dash = dashboard();
    // Grafana 10.0 writes schemaVersion 38, 10.4 and 11.0 write 39, 12 writes 41;
    // each migrates older versions when it loads them.
    let schema = dash["schemaVersion"].as_i64().unwrap();
    assert!((38..=41).contains(&schema), "schemaVersion {schema}");
    assert!(dash["id"].is_null(), "an exported dashboard has no id, or import clashes with an existing one");
    assert_eq!(dash["uid"], "envdash");
    assert!(dash["title"].is_string());

    let vars = dash["templating"]["list"].as_array().unwrap();
    let var = |name: &str| vars.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no variable {name}"));
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let ds = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    assert_eq!(var("env")["datasource"], ds);
    // Every `$name` and `${name…}` anywhere (queries, links, data links) is a
    // variable of the dashboard or one of Grafana's own (`$__all`, `${__data…}`).
    let var_names: BTreeSet<&str> = vars.iter().map(|v| v["name"].as_str().unwrap()).collect();
    let text = dash.to_string();
    for used in text.split('$').skip(1) {
        let name: String = used.trim_start_matches('{').chars().take_while(|&c| is_ident(c) && c != ':').collect();
        assert!(var_names.contains(name.as_str()) || name.starts_with("__"), "${name} is no variable of the dashboard");
    }

    let mut ids = BTreeSet::new();
    let mut rects = Vec::new();
    for panel in panels(&dash) {
        let title = panel["title"].as_str().unwrap();
        assert!(ids.insert(panel["id"].as_i64().unwrap()), "panel id {} twice", panel["id"]);
        let (x, y, w, h) = grid(panel);
        assert!(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24, "panel {title:?} is off the 24-column grid");
        for &(other, (ox, oy, ow, oh)) in &rects {
            assert!(
                x >= ox + ow || ox >= x + w || y >= oy + oh || oy >= y + h,
                "panels {title:?} and {other:?} overlap"
            );
        }
        rects.push((title, (x, y, w, h)));
        if panel["type"] == "row" {
            continue;
        }
        assert!(panel["description"].as_str().is_some_and(|d| !d.is_empty()), "panel {title:?} has no description");
        assert_eq!(panel["datasource"], ds, "panel {title:?}");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("panel {title:?} has no targets"));
        let mut refs = BTreeSet::new();
        for t in targets {
            assert_eq!(t["datasource"], ds, "panel {title:?}");
            assert!(refs.insert(t["refId"].as_str().unwrap()), "panel {title:?}: refId {} twice", t["refId"]);
            assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()), "panel {title:?}: a target without expr");
        }
    }
}
