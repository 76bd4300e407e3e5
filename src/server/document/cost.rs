//! What a query costs (SPEC §9e), before it runs and once it has.
//!
//! The model, for the frontend developer (the README works an example through):
//!
//! - a field costs 1, plus what its selection costs;
//! - a page — a connection (`tenants`, `operationRuns`, …) or a list that takes `first`
//!   (`recentRuns`, `stuckRuns`, …) — costs 1 plus its page size (`first`, else `last`,
//!   else the argument's default, else the default page of 20) times what its selection
//!   costs;
//! - `nodes(ids:)` costs 1 plus the number of ids times what its selection costs;
//! - `__typename` costs nothing.
//!
//! The **requested** cost is that sum over the document as written, the same number
//! `system_console.limits.max_complexity` bounds (async-graphql computes it again for the
//! limit; a test holds the two equal). The **actual** cost is the same sum over what the
//! answer holds: a connection's page size becomes the number of items it returned (at
//! least 1), `nodes` the number of ids answered, a list is charged for its costliest
//! item, a field the answer lacks (a null parent, another branch of a fragment) costs
//! nothing, and a field selected twice under one name is charged once. So the actual cost
//! is never above the requested one.
//!
//! A document's fragments are followed where they are spread: the admission checks have
//! bounded what a document expands to (`max_selections`) before this runs.

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{Value, Variables};

use super::types::{inline_on, named};
use super::{Admitted, TypeIndex};
use crate::graphql::connection::page_cost;

/// How a field's cost follows from its selection's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// 1 + what its selection costs.
    Plain,
    /// A page, any field that takes `first`: 1 + page size × what its selection costs.
    Page,
    /// `nodes(ids:)`: 1 + number of ids × what its selection costs.
    Ids,
}

/// The field every type answers with its name, at no cost.
const TYPENAME: &str = "__typename";
/// The argument every paged field takes.
const FIRST: &str = "first";

/// Costs the operation that runs of an admitted document, with its variables.
pub(crate) struct Costing<'a> {
    document: &'a ExecutableDocument,
    selection: &'a SelectionSet,
    root: &'a str,
    variables: &'a Variables,
    types: &'a TypeIndex,
    /// The operation's cost as written, computed once.
    requested: u64,
}

impl<'a> Costing<'a> {
    pub(crate) fn new(
        admitted: &'a Admitted,
        variables: &'a Variables,
        types: &'a TypeIndex,
    ) -> Self {
        let mut costing = Self {
            document: &admitted.document,
            selection: &admitted.selection,
            root: types.root(admitted.ty),
            variables,
            types,
            requested: 0,
        };
        costing.requested = costing.set_cost(costing.root, costing.selection) as u64;
        costing
    }

    /// The operation's cost as written.
    pub(crate) fn requested(&self) -> u64 {
        self.requested
    }

    /// The cost of what `data`, the operation's answer, holds: never above
    /// [`Costing::requested`] (the clamp only guards the rule of this module's comment).
    pub(crate) fn actual(&self, data: &Value) -> u64 {
        (self.answered(self.root, self.selection, data) as u64).min(self.requested)
    }

    fn set_cost(&self, parent: &str, set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) if field.node.name.node == TYPENAME => 0,
                Selection::Field(field) => self.field_cost(parent, &field.node),
                fragment => self
                    .fragment(parent, fragment)
                    .map_or(0, |(on, set)| self.set_cost(on, set)),
            })
            .fold(0, usize::saturating_add)
    }

    /// What a fragment spread or inline fragment selects, and on which type (a spread
    /// of an unknown fragment, which validation refuses, selects nothing).
    fn fragment<'d>(
        &'d self,
        parent: &'d str,
        selection: &'d Selection,
    ) -> Option<(&'d str, &'d SelectionSet)> {
        match selection {
            Selection::Field(_) => None,
            Selection::FragmentSpread(spread) => {
                let fragment = &self
                    .document
                    .fragments
                    .get(&spread.node.fragment_name.node)?
                    .node;
                Some((
                    &fragment.type_condition.node.on.node,
                    &fragment.selection_set.node,
                ))
            }
            Selection::InlineFragment(inline) => {
                let inline = &inline.node;
                Some((inline_on(inline, parent), &inline.selection_set.node))
            }
        }
    }

    fn field_cost(&self, parent: &str, field: &Field) -> usize {
        let (rule, child) = self.rule(parent, field);
        let children = self.set_cost(child, &field.selection_set.node);
        match rule {
            Rule::Plain => children.saturating_add(1),
            Rule::Page => page_cost(self.page_size(parent, field), children),
            Rule::Ids => self
                .ids(field)
                .max(1)
                .saturating_mul(children)
                .saturating_add(1),
        }
    }

    /// The rule of `field` of `parent`, and the type its selection is on ("" when the
    /// schema's SDL does not have it: introspection's types).
    fn rule<'t>(&'t self, parent: &str, field: &Field) -> (Rule, &'t str) {
        let Some(returns) = self.types.field_type(parent, &field.name.node) else {
            return (Rule::Plain, "");
        };
        let child = named(returns).as_str();
        let rule = if self.types.takes(parent, &field.name.node, FIRST) {
            Rule::Page
        } else if field.name.node == "nodes" && parent == self.types.root(OperationType::Query) {
            Rule::Ids
        } else {
            Rule::Plain
        };
        (rule, child)
    }

    /// `first`, else `last`, as the field's arguments (or their defaults) give them.
    fn page_size(&self, parent: &str, field: &Field) -> Option<i32> {
        let int = |name: &str| {
            let value = self.argument(field, name).or_else(|| {
                self.types
                    .default_of(parent, &field.name.node, name)
                    .cloned()
            });
            match value? {
                Value::Number(number) => number
                    .as_i64()
                    .map(|n| n.clamp(0, i64::from(i32::MAX)) as i32),
                _ => None,
            }
        };
        int(FIRST).or_else(|| int("last"))
    }

    /// How many `ids` the field's arguments give.
    fn ids(&self, field: &Field) -> usize {
        match self.argument(field, "ids") {
            Some(Value::List(ids)) => ids.len(),
            Some(Value::Null) | None => 0,
            Some(_) => 1,
        }
    }

    /// The value of argument `name`, its variable resolved.
    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        let (_, value) = field
            .arguments
            .iter()
            .find(|(argument, _)| argument.node == name)?;
        value
            .node
            .clone()
            .into_const_with(|variable| self.variables.get(&variable).cloned().ok_or(()))
            .ok()
    }

    /// What the answer `value` to `set` (on `parent`) costs: each of its entries the
    /// selection names, once.
    fn answered(&self, parent: &str, set: &SelectionSet, value: &Value) -> usize {
        let mut fields = Vec::new();
        self.collect(parent, set, &mut fields);
        self.answered_fields(&fields, value)
    }

    fn answered_fields(&self, fields: &[Collected<'_>], value: &Value) -> usize {
        match value {
            Value::Object(entries) => fields
                .iter()
                .filter_map(|collected| {
                    let answer = entries.get(collected.key)?;
                    Some(self.answered_field(collected, answer))
                })
                .fold(0, usize::saturating_add),
            // A list is charged for its costliest item, as the requested cost charges
            // its selection once.
            Value::List(items) => items
                .iter()
                .map(|item| self.answered_fields(fields, item))
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }

    fn answered_field(&self, collected: &Collected<'_>, answer: &Value) -> usize {
        let field = collected.field;
        let (rule, child) = self.rule(collected.parent, field);
        let children = if field.selection_set.node.items.is_empty() {
            0
        } else {
            self.answered(child, &field.selection_set.node, answer)
        };
        let count = match rule {
            Rule::Plain => return children.saturating_add(1),
            Rule::Page => match answer {
                Value::Object(connection) => ["edges", "nodes"]
                    .iter()
                    .filter_map(|key| match connection.get(*key) {
                        Some(Value::List(items)) => Some(items.len()),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0),
                _ => 0,
            },
            Rule::Ids => match answer {
                Value::List(items) => items.iter().filter(|item| **item != Value::Null).count(),
                _ => 0,
            },
        };
        count.max(1).saturating_mul(children).saturating_add(1)
    }

    /// The fields of `set` on `parent`, fragments spread, first of each response key.
    fn collect<'d>(
        &'d self,
        parent: &'d str,
        set: &'d SelectionSet,
        into: &mut Vec<Collected<'d>>,
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) if field.node.name.node == TYPENAME => {}
                Selection::Field(field) => {
                    let field = &field.node;
                    let key = field.response_key().node.as_str();
                    if into.iter().all(|collected| collected.key != key) {
                        into.push(Collected { key, parent, field });
                    }
                }
                fragment => {
                    if let Some((on, set)) = self.fragment(parent, fragment) {
                        self.collect(on, set, into);
                    }
                }
            }
        }
    }
}

/// A field of a selection set, under its response key, with the type it is on.
struct Collected<'d> {
    key: &'d str,
    parent: &'d str,
    field: &'d Field,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_graphql::extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextValidation,
    };
    use async_graphql::{Request, ServerError, ValidationResult, Value, Variables};

    use super::*;
    use crate::config::Limits;
    use crate::server::saved::saved_operations;

    /// Reads the complexity async-graphql's validation computes for the limit.
    struct Complexity(Arc<AtomicUsize>);

    impl ExtensionFactory for Complexity {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(Complexity(self.0.clone()))
        }
    }

    #[async_trait::async_trait]
    impl Extension for Complexity {
        async fn validation(
            &self,
            ctx: &ExtensionContext<'_>,
            next: NextValidation<'_>,
        ) -> Result<ValidationResult, Vec<ServerError>> {
            let result = next.run(ctx).await?;
            self.0.store(result.complexity, Ordering::SeqCst);
            Ok(result)
        }
    }

    fn types() -> TypeIndex {
        TypeIndex::of_sdl(&crate::graphql::sdl()).unwrap()
    }

    /// Ours and async-graphql's cost of `query` with `variables`.
    async fn both(query: &str, variables: serde_json::Value) -> (u64, u64) {
        let types = types();
        let admitted = super::super::admit(query, None, &Limits::default(), &types).unwrap();
        let variables = Variables::from_json(variables);
        let ours = Costing::new(&admitted, &variables, &types).requested();
        let seen = Arc::new(AtomicUsize::new(usize::MAX));
        let schema = crate::graphql::schema()
            .extension(Complexity(seen.clone()))
            .finish();
        let _ = schema
            .execute(Request::new(query).variables(variables.clone()))
            .await;
        let theirs = seen.load(Ordering::SeqCst);
        assert_ne!(theirs, usize::MAX, "async-graphql did not validate {query}");
        (ours, theirs as u64)
    }

    #[tokio::test]
    async fn the_requested_cost_is_the_complexity_the_limit_computes() {
        let documents = [
            ("{ settings { maxPageSize } }", serde_json::json!({})),
            (
                "query($n: Int) { tenants(first: $n) { totalCount nodes { id name workspace { slug } } } }",
                serde_json::json!({"n": 7}),
            ),
            (
                "query($n: Int) { tenants(first: $n) { nodes { id } } }",
                serde_json::json!({}),
            ),
            (
                "{ workspaces(first: 3) { edges { node { tenants(first: 4) { nodes { name recentRuns(first: 2) { id status } } } } } } }",
                serde_json::json!({}),
            ),
            (
                "{ nodes(ids: [\"a\", \"b\", \"c\"]) { id ... on Tenant { name recentRuns(first: 3) { id } } } }",
                serde_json::json!({}),
            ),
            (
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } node(id: \"x\") { id } }",
                serde_json::json!({"ids": ["a", "b"]}),
            ),
            (
                "fragment T on Tenant { name status } { tenants { nodes { ...T ... on Tenant { id } } } }",
                serde_json::json!({}),
            ),
            (
                "{ __schema { types { name fields { name } } } __typename tenants { nodes { __typename } } }",
                serde_json::json!({}),
            ),
        ];
        for (query, variables) in documents {
            let (ours, theirs) = both(query, variables).await;
            assert_eq!(ours, theirs, "{query}");
        }
        for saved in saved_operations() {
            if saved.ty == async_graphql::parser::types::OperationType::Query {
                let (ours, theirs) = both(&saved.document, serde_json::json!({})).await;
                assert_eq!(ours, theirs, "{}", saved.file);
            }
        }
    }

    /// The actual cost of `data`, the answer to `query`, and the requested cost.
    fn actual(query: &str, data: serde_json::Value) -> (u64, u64) {
        let types = types();
        let admitted = super::super::admit(query, None, &Limits::default(), &types).unwrap();
        let variables = Variables::default();
        let costing = Costing::new(&admitted, &variables, &types);
        let data = Value::from_json(data).unwrap();
        (costing.actual(&data), costing.requested())
    }

    #[test]
    fn the_actual_cost_counts_what_was_returned() {
        let query = "{ tenants(first: 10) { totalCount nodes { id name } } }";
        // Requested: 1 + 10 × (totalCount 1 + nodes (1 + 2)) = 41.
        let two = serde_json::json!({"tenants": {"totalCount": 2, "nodes": [
            {"id": "a", "name": "x"}, {"id": "b", "name": "y"}]}});
        assert_eq!(actual(query, two), (1 + 2 * 4, 41));
        let none = serde_json::json!({"tenants": {"totalCount": 0, "nodes": []}});
        assert_eq!(actual(query, none), (1 + 2, 41));
        // Nothing answered costs nothing.
        assert_eq!(actual(query, serde_json::json!(null)), (0, 41));
        // A field selected twice under one name is charged once.
        let twice = "{ settings { maxPageSize maxPageSize } }";
        let data = serde_json::json!({"settings": {"maxPageSize": 100}});
        assert_eq!(actual(twice, data), (2, 3));
    }
}
