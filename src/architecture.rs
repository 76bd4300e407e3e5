//! Tests of the code's own shape, read from the source files: which way the modules
//! depend on one another, and where stored values are spelled.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::domain::audit::{AuditAction, PLATFORM_PREFIX};
use crate::domain::status::{
    ActorType, AuditStatus, ConnectionHealth, ConnectionStatus, MembershipRole, PermissionStatus,
    RunOutcome, RunStatus, TenantStatus,
};

/// Literals outside `src/domain` that happen to spell a stored value but mean something
/// else, with the file they are in.
const NOT_STORED_VALUES: &[(&str, &[&str], &str)] = &[
    (
        "src/metrics.rs",
        &["ok", "succeeded", "failed", "unknown"],
        "label values of /metrics",
    ),
    ("src/server/mod.rs", &["ok"], "the body of /healthz"),
    (
        "src/cli.rs",
        &["active", "disabled"],
        "an operator's state in `operator list`",
    ),
];

/// One source file: its module path (`graphql::types::tenant`) and its code, without
/// its unit tests and comments.
struct Source {
    path: PathBuf,
    module: String,
    code: Vec<String>,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            let mut parts: Vec<String> = relative
                .with_extension("")
                .components()
                .skip(1)
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|last| last == "mod") {
                parts.pop();
            }
            let text = fs::read_to_string(&path).unwrap_or_default();
            let text = match text.find("#[cfg(test)]\nmod tests") {
                Some(tests) => &text[..tests],
                None => &text[..],
            };
            let code = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .map(str::to_owned)
                .collect();
            Source {
                path: relative,
                module: parts.join("::"),
                code,
            }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// Which modules each module uses, through `crate::…` and `super::…` paths.
fn dependencies(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<&str> = sources
        .iter()
        .map(|source| source.module.as_str())
        .collect();
    let path = Regex::new(r"\b(crate|super)::((?:\w+::)*\w+|\{[^}]*\})").expect("a valid regex");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources {
        let is_mod_rs = source.path.ends_with("mod.rs");
        let mut parent: Vec<&str> = source.module.split("::").collect();
        if !is_mod_rs {
            parent.pop();
        }
        for line in &source.code {
            for found in path.captures_iter(line) {
                let base: Vec<&str> = match &found[1] {
                    "crate" => Vec::new(),
                    _ => parent.clone(),
                };
                let named = found[2].trim_matches(|c| c == '{' || c == '}');
                for item in named.split(',') {
                    let mut full = base.clone();
                    full.extend(item.trim().split("::").filter(|part| !part.is_empty()));
                    // The longest prefix that is a module is the module used.
                    let used = (1..=full.len())
                        .rev()
                        .map(|length| full[..length].join("::"))
                        .find(|candidate| modules.contains(candidate.as_str()));
                    if let Some(used) = used
                        && used != source.module
                        && !source.module.starts_with(&format!("{used}::"))
                    {
                        graph.entry(source.module.clone()).or_default().insert(used);
                    }
                }
            }
        }
    }
    graph
}

#[test]
fn no_two_modules_import_each_other() {
    let graph = dependencies(&sources());
    assert!(
        graph["graphql::loaders"].contains("graphql::coalesce"),
        "the dependency reader sees `use super::…`"
    );
    let mut circles = Vec::new();
    for (module, used) in &graph {
        for other in used {
            let back = graph
                .get(other)
                .is_some_and(|theirs| theirs.contains(module));
            // The object types refer to one another as the schema's graph does.
            let both_types = [module, other]
                .iter()
                .all(|name| name.starts_with("graphql::types::"));
            if back && module < other && !both_types {
                circles.push(format!("{module} ⇄ {other}"));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "modules that import each other: {circles:?}"
    );
}

#[test]
fn the_layers_depend_one_way() {
    let graph = dependencies(&sources());
    let top = |module: &str| module.split("::").next().unwrap_or_default().to_owned();
    // What each lower layer may not use.
    let above_domain: &[&str] = &["server", "graphql", "auth", "db", "cli", "seed"];
    let forbidden: [(&str, &[&str]); 9] = [
        (
            "domain",
            &["server", "graphql", "auth", "db", "config", "cli", "seed"],
        ),
        ("config", above_domain),
        ("error", above_domain),
        ("metrics", above_domain),
        ("logging", above_domain),
        ("telemetry", above_domain),
        ("db", &["server", "graphql", "auth", "cli", "seed"]),
        ("auth", &["server", "graphql", "cli", "seed"]),
        ("graphql", &["server", "cli", "seed"]),
    ];
    let mut wrong = Vec::new();
    for (module, used) in &graph {
        for (layer, above) in forbidden {
            if top(module) == layer {
                for other in used {
                    if above.contains(&top(other).as_str()) {
                        wrong.push(format!("{module} → {other}"));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering: {wrong:?}");
}

/// String literals of a line (`"…"`, and `'…'` inside them for SQL), each with whether
/// it is a JSON object key (`"failed": 3`).
fn literals(line: &str) -> Vec<(String, bool)> {
    static LITERAL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"["']([a-z_.]+)["'](\s*:[^:])?"#).expect("a valid regex"));
    LITERAL
        .captures_iter(line)
        .map(|found| (found[1].to_owned(), found.get(2).is_some()))
        .collect()
}

#[test]
fn stored_status_values_are_spelled_only_in_the_domain() {
    let mut stored: BTreeSet<&str> = BTreeSet::new();
    stored.extend(RunStatus::known_stored());
    stored.extend(RunOutcome::known_stored());
    stored.extend(TenantStatus::known_stored());
    stored.extend(ConnectionStatus::known_stored());
    stored.extend(ConnectionHealth::known_stored());
    stored.extend(PermissionStatus::known_stored());
    stored.extend(AuditStatus::known_stored());
    stored.extend(MembershipRole::known_stored());
    stored.extend(ActorType::known_stored());
    stored.insert(RunStatus::Unknown.as_stored());
    let mut found = Vec::new();
    let mut excused = BTreeSet::new();
    for source in sources() {
        if source.path.starts_with("src/domain") || source.path.ends_with("architecture.rs") {
            continue;
        }
        let allowed: Vec<&str> = NOT_STORED_VALUES
            .iter()
            .filter(|(file, _, _)| source.path == Path::new(file))
            .flat_map(|(_, values, _)| values.iter().copied())
            .collect();
        for (number, line) in source.code.iter().enumerate() {
            for (literal, is_key) in literals(line) {
                if !stored.contains(literal.as_str()) || is_key {
                    continue;
                }
                if allowed.contains(&literal.as_str()) {
                    excused.insert((source.path.clone(), literal));
                } else {
                    found.push(format!(
                        "{}:{}: {literal}",
                        source.path.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "stored values spelled outside src/domain (use the typed values): {found:?}"
    );
    // Every excuse is still needed (which also shows the reader finds literals).
    for (file, values, why) in NOT_STORED_VALUES {
        for value in *values {
            let key = (PathBuf::from(file), (*value).to_owned());
            assert!(
                excused.contains(&key),
                "{file} no longer spells `{value}` ({why})"
            );
        }
    }
}

#[test]
fn each_audit_action_is_spelled_in_one_file() {
    let mut files: BTreeMap<String, BTreeSet<PathBuf>> = BTreeMap::new();
    for source in sources() {
        for line in &source.code {
            for (literal, _) in literals(line) {
                if literal.starts_with(PLATFORM_PREFIX) {
                    files
                        .entry(literal)
                        .or_default()
                        .insert(source.path.clone());
                }
            }
        }
    }
    let home = BTreeSet::from([PathBuf::from("src/domain/audit.rs")]);
    for action in AuditAction::ALL {
        assert_eq!(
            files.remove(action.as_stored()),
            Some(home.clone()),
            "{action:?}"
        );
    }
    files.remove(PLATFORM_PREFIX);
    assert!(
        files.is_empty(),
        "actions spelled outside AuditAction: {files:?}"
    );
}
