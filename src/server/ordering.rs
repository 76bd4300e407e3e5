//! Puts the fields of a response back in the order the query asked for them.
//!
//! The GraphQL spec (§7.2.2, "Serialized Map Ordering") says response maps should follow
//! the order of the selection set. async-graphql 7 resolves sibling fields concurrently
//! and records them as they finish, so a field backed by a loader lands after its
//! synchronous siblings. This walks the response beside the executed document and
//! restores the requested order.

use std::collections::HashSet;

use async_graphql::Name;
use async_graphql::Value;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Reorders `data` (the response of `selection`) in place.
pub fn restore(document: &ExecutableDocument, selection: &SelectionSet, data: &mut Value) {
    reorder(document, &[selection], data);
}

fn reorder(document: &ExecutableDocument, sets: &[&SelectionSet], value: &mut Value) {
    match value {
        Value::List(items) => {
            let fields = collect(document, sets);
            for item in items {
                apply(document, &fields, item);
            }
        }
        Value::Object(_) => {
            let fields = collect(document, sets);
            apply(document, &fields, value);
        }
        _ => {}
    }
}

fn apply(document: &ExecutableDocument, fields: &[(Name, Vec<&SelectionSet>)], value: &mut Value) {
    match value {
        Value::List(items) => {
            for item in items {
                apply(document, fields, item);
            }
        }
        Value::Object(map) => {
            let mut unordered = std::mem::take(map);
            for (key, sets) in fields {
                if let Some(mut child) = unordered.shift_remove(key) {
                    if !sets.is_empty() {
                        reorder(document, sets, &mut child);
                    }
                    map.insert(key.clone(), child);
                }
            }
            // Anything the walk did not foresee keeps its place after the rest.
            map.extend(unordered);
        }
        _ => {}
    }
}

/// The response keys of the selection sets in document order, each with the selection
/// sets of the fields merged under it (CollectFields, without evaluating conditions:
/// keys that were skipped are simply absent from the response). A fragment spread twice
/// adds nothing the first spread did not, so each is visited once.
fn collect<'d>(
    document: &'d ExecutableDocument,
    sets: &[&'d SelectionSet],
) -> Vec<(Name, Vec<&'d SelectionSet>)> {
    let mut collector = Collector {
        document,
        fields: Vec::new(),
        visited: HashSet::new(),
    };
    for set in sets {
        collector.set(set);
    }
    collector.fields
}

struct Collector<'d> {
    document: &'d ExecutableDocument,
    fields: Vec<(Name, Vec<&'d SelectionSet>)>,
    visited: HashSet<&'d str>,
}

impl<'d> Collector<'d> {
    fn set(&mut self, set: &'d SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let key = &field.node.response_key().node;
                    let child = &field.node.selection_set.node;
                    match self.fields.iter_mut().find(|(known, _)| known == key) {
                        Some((_, sets)) => {
                            if !sets.iter().any(|known| std::ptr::eq(*known, child)) {
                                sets.push(child);
                            }
                        }
                        None => self.fields.push((key.clone(), vec![child])),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if self.visited.insert(name.as_str())
                        && let Some(fragment) = self.document.fragments.get(name)
                    {
                        self.set(&fragment.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(fragment) => self.set(&fragment.node.selection_set.node),
            }
        }
    }
}
