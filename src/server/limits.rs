//! Checks on a parsed document that run before any resolver (and so before any SQL):
//! which operation runs, whether the HTTP method allows it, and the alias and root-field
//! limits of SPEC §9. Depth and complexity are enforced by async-graphql itself.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};

use crate::config::Limits;
use crate::error::AppError;

/// The operation a request selects, or why none can be selected.
pub fn selected_operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<&'d OperationDefinition, AppError> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Ok(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get(name)
            .map(|operation| &operation.node)
            .ok_or_else(|| {
                AppError::bad_input(format!("the document has no operation named {name:?}"))
            }),
        (DocumentOperations::Multiple(_), None) => Err(AppError::bad_input(
            "the document has several operations: say which to run with `operationName`",
        )),
    }
}

/// Whether the operation writes (a mutation), which `GET` must refuse.
pub fn is_mutation(operation: &OperationDefinition) -> bool {
    operation.ty == OperationType::Mutation
}

/// The names of the operation's root fields (following fragments at the root).
pub fn root_fields(document: &ExecutableDocument, operation: &OperationDefinition) -> Vec<String> {
    fn collect(
        document: &ExecutableDocument,
        set: &SelectionSet,
        names: &mut Vec<String>,
        depth: usize,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => names.push(field.node.name.node.to_string()),
                Selection::FragmentSpread(spread) if depth < 16 => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        collect(
                            document,
                            &fragment.node.selection_set.node,
                            names,
                            depth + 1,
                        );
                    }
                }
                Selection::InlineFragment(fragment) if depth < 16 => {
                    collect(
                        document,
                        &fragment.node.selection_set.node,
                        names,
                        depth + 1,
                    );
                }
                _ => {}
            }
        }
    }
    let mut names = Vec::new();
    collect(document, &operation.selection_set.node, &mut names, 0);
    names
}

/// Refuses documents with too many aliases or root fields.
pub fn check(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    limits: &Limits,
) -> Result<(), AppError> {
    let root_fields = FieldCounter::count(document, &operation.selection_set.node, false);
    if root_fields > limits.max_root_fields as usize {
        return Err(AppError::QueryTooComplex(format!(
            "the operation selects {root_fields} root fields; at most {} are allowed",
            limits.max_root_fields
        )));
    }
    let aliases = FieldCounter::count(document, &operation.selection_set.node, true);
    if aliases > limits.max_aliases as usize {
        return Err(AppError::QueryTooComplex(format!(
            "the operation uses {aliases} aliases; at most {} are allowed",
            limits.max_aliases
        )));
    }
    Ok(())
}

/// Counts root fields (not descending into fields) or aliased fields (the whole tree),
/// following fragments. Each fragment is counted once and reused, so a document of
/// fragments spreading each other many times costs no more than its size; cycles count
/// nothing (the validator rejects them afterwards).
struct FieldCounter<'d> {
    document: &'d ExecutableDocument,
    aliases: bool,
    fragments: HashMap<&'d str, usize>,
    visiting: HashSet<&'d str>,
}

impl<'d> FieldCounter<'d> {
    fn count(document: &'d ExecutableDocument, set: &'d SelectionSet, aliases: bool) -> usize {
        let mut counter = Self {
            document,
            aliases,
            fragments: HashMap::new(),
            visiting: HashSet::new(),
        };
        counter.selection_set(set)
    }

    fn selection_set(&mut self, set: &'d SelectionSet) -> usize {
        let mut total = 0usize;
        for selection in &set.items {
            let count = match &selection.node {
                Selection::Field(field) if self.aliases => usize::from(field.node.alias.is_some())
                    .saturating_add(self.selection_set(&field.node.selection_set.node)),
                Selection::Field(_) => 1,
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node)
                }
            };
            total = total.saturating_add(count);
        }
        total
    }

    fn fragment(&mut self, name: &'d str) -> usize {
        if let Some(count) = self.fragments.get(name) {
            return *count;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        if !self.visiting.insert(name) {
            return 0;
        }
        let count = self.selection_set(&fragment.node.selection_set.node);
        self.visiting.remove(name);
        self.fragments.insert(name, count);
        count
    }
}
