//! The saved operations of `playground/operations/` (one operation a file) and the
//! fragments of `playground/fragments/` they spread, embedded at build time.
//!
//! A saved operation's **document** is its file, then each fragment file it needs
//! (spread by it or by another fragment it needs), in file-name order, each after a
//! newline. The playground offers these documents, and the service knows each by its
//! SHA-256 from the first request, so a dashboard can call a saved operation by hash.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use async_graphql::parser::types::{OperationType, Selection, SelectionSet};

/// The saved operations, `(file name, text)`, embedded by `build.rs`.
const OPERATIONS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/saved_operations.rs"));
/// The fragments, `(file name, text)`, embedded by `build.rs`.
const FRAGMENTS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/saved_fragments.rs"));

/// A saved operation, ready to run.
#[derive(Clone, Debug)]
pub struct SavedOperation {
    /// Its file under `playground/operations/`.
    pub file: &'static str,
    /// What the file's first comment says before its colon: "Control Tower overview".
    pub title: String,
    /// The file's leading comment, the lines joined.
    pub description: String,
    /// The operation's name.
    pub name: String,
    /// Query, mutation or subscription.
    pub ty: OperationType,
    /// The file, then the fragments it needs.
    pub document: String,
}

/// Every saved operation, by file name, read once. A file that does not parse, or
/// spreads a fragment no file defines, is left out with a warning — a test runs every
/// one.
pub fn saved_operations() -> &'static [SavedOperation] {
    static SAVED: LazyLock<Vec<SavedOperation>> = LazyLock::new(read_saved_operations);
    &SAVED
}

fn read_saved_operations() -> Vec<SavedOperation> {
    let fragments = fragment_files();
    OPERATIONS
        .iter()
        .filter_map(|(file, text)| match saved(file, text, &fragments) {
            Ok(saved) => Some(saved),
            Err(problem) => {
                tracing::warn!(file, %problem, "a saved operation is left out");
                None
            }
        })
        .collect()
}

/// The fragments of `playground/fragments/`: by fragment name, the file defining it and
/// the fragments it spreads.
fn fragment_files() -> HashMap<String, (&'static str, &'static str, BTreeSet<String>)> {
    let mut fragments = HashMap::new();
    for (file, text) in FRAGMENTS {
        // A GraphQL document needs an operation; a fragment file has none of its own.
        let Ok(document) = async_graphql::parser::parse_query(format!("{text}\n{{ __typename }}"))
        else {
            tracing::warn!(file, "a saved fragment does not parse");
            continue;
        };
        for (name, fragment) in &document.fragments {
            let mut spreads = BTreeSet::new();
            spreads_of(&fragment.node.selection_set.node, &mut spreads);
            fragments.insert(name.to_string(), (*file, *text, spreads));
        }
    }
    fragments
}

fn saved(
    file: &'static str,
    text: &str,
    fragments: &HashMap<String, (&'static str, &'static str, BTreeSet<String>)>,
) -> Result<SavedOperation, String> {
    let parsed = async_graphql::parser::parse_query(text).map_err(|error| error.to_string())?;
    let mut operations = parsed.operations.iter();
    let (Some((name, operation)), None) = (operations.next(), operations.next()) else {
        return Err("a saved file holds exactly one operation".to_owned());
    };
    let name = name.ok_or("a saved operation has a name")?.to_string();
    let mut needed = BTreeSet::new();
    spreads_of(&operation.node.selection_set.node, &mut needed);
    let mut files = BTreeSet::new();
    let mut pending: Vec<String> = needed.into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(fragment) = pending.pop() {
        if !seen.insert(fragment.clone()) || parsed.fragments.contains_key(fragment.as_str()) {
            continue;
        }
        let (file, _, spreads) = fragments
            .get(&fragment)
            .ok_or_else(|| format!("no file of playground/fragments/ defines `{fragment}`"))?;
        files.insert(*file);
        pending.extend(spreads.iter().cloned());
    }
    let mut document = text.to_owned();
    for (file, fragment) in FRAGMENTS {
        if files.contains(file) {
            document.push('\n');
            document.push_str(fragment);
        }
    }
    let comment: Vec<&str> = text
        .lines()
        .map_while(|line| line.strip_prefix('#'))
        .map(str::trim)
        .collect();
    let description = comment.join(" ");
    let title = description
        .split_once(':')
        .map_or(name.as_str(), |(title, _)| title)
        .to_owned();
    Ok(SavedOperation {
        file,
        title,
        description,
        name,
        ty: operation.node.ty,
        document,
    })
}

/// Adds the names of the fragments `set` spreads, at any depth within it.
fn spreads_of(set: &SelectionSet, names: &mut BTreeSet<String>) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => spreads_of(&field.node.selection_set.node, names),
            Selection::InlineFragment(inline) => spreads_of(&inline.node.selection_set.node, names),
            Selection::FragmentSpread(spread) => {
                names.insert(spread.node.fragment_name.node.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_a_saved_operation_with_the_fragments_it_needs() {
        let saved = saved_operations();
        assert_eq!(
            saved.len(),
            OPERATIONS.len(),
            "every file parses and finds its fragments"
        );
        let tower = saved
            .iter()
            .find(|saved| saved.file == "control-tower.graphql")
            .unwrap();
        assert_eq!(tower.title, "Control Tower overview");
        assert_eq!(tower.name, "ControlTower");
        assert!(
            tower
                .document
                .contains("fragment ControlTowerTile on ControlTower")
        );
        assert!(!tower.document.contains("fragment RunRow"));
        // A fragment a fragment spreads comes along.
        let stuck = saved
            .iter()
            .find(|saved| saved.file == "stuck-runs.graphql")
            .unwrap();
        assert!(stuck.document.contains("fragment StuckRunsPanel on Query"));
        assert!(stuck.document.contains("fragment RunRow on OperationRun"));
    }

    #[test]
    fn every_fragment_is_used_by_a_saved_operation() {
        let saved = saved_operations();
        for (name, (file, _, _)) in fragment_files() {
            assert!(
                saved
                    .iter()
                    .any(|saved| saved.document.contains(&format!("fragment {name} on"))),
                "{file} is used"
            );
        }
    }
}
