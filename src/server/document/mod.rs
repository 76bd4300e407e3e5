//! Admission of a GraphQL document: every check that needs no database, ordered so that
//! nothing recursive touches the document before it has been measured (SPEC §9).
//!
//! 1. The raw text: its length, and how deeply it nests ([`text`]), in one linear scan —
//!    the parser recurses once per level, and about 1,700 levels overflow a worker's
//!    stack.
//! 2. The parse, then which operation runs.
//! 3. What the document expands to once its fragments are spread ([`shape`]), with each
//!    fragment measured once: cycles, selections, nesting, depth, root fields, aliases,
//!    directives and `login`s. async-graphql's own passes (its recursion and directive
//!    checks, validation, complexity and depth) follow spreads without remembering what
//!    they found, so a few kilobytes of fragments spreading each other twice would keep
//!    them busy for hours; they only ever see documents these bounds admit.
//! 4. What it says of the schema's types ([`types`]): enum values written as strings,
//!    variables of types the schema lacks.
//!
//! A refusal is `QUERY_TOO_COMPLEX` when a limit of `system_console.limits` was passed,
//! `BAD_USER_INPUT` when the document is wrong whatever the limits.

use std::sync::atomic::{AtomicBool, Ordering};

mod admissions;
mod cost;
mod shape;
mod text;
mod types;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, SelectionSet,
    VariableDefinition,
};
use async_graphql::{Name, Positioned, Variables};

pub(crate) use self::admissions::Admissions;
pub(crate) use self::cost::Costing;
use self::shape::{Fragments, Measure};
pub(crate) use self::types::TypeIndex;
use crate::config::Limits;
use crate::error::AppError;
use crate::graphql::types::operator::LOGIN_FIELD;

/// How deep introspection (`__schema`, `__type`) may nest, in place of `max_depth`: the
/// standard introspection query of graphql-js nests 15 deep (`ofType` nine times), and
/// GraphiQL, graphql-codegen and Apollo's tools send it or a close variant.
pub(crate) const INTROSPECTION_MAX_DEPTH: u64 = 20;
/// How many lists of the schema's parts (`types`, `fields`, `args`, …) introspection may
/// nest in one another: the standard query nests three (`types { fields { args } }`).
/// What bounds an introspection answer is this, not depth: `ofType` chains are single
/// values, while `fields { type { fields { type { fields … } } } }` multiplies.
pub(crate) const INTROSPECTION_MAX_LISTS: u64 = 3;

/// The root fields a request may use without a session.
const OPEN_ROOT_FIELDS: [&str; 4] = [LOGIN_FIELD, "__schema", "__type", "__typename"];

/// A document that passed every check, ready to run.
pub(crate) struct Admitted {
    pub(crate) document: ExecutableDocument,
    /// The selection set of the operation that runs.
    pub(crate) selection: SelectionSet,
    /// Whether that operation is a query, a mutation or a subscription.
    pub(crate) ty: OperationType,
    /// The variables that operation declares.
    pub(crate) variables: Vec<Positioned<VariableDefinition>>,
    /// Whether it does more than log in or introspect.
    pub(crate) needs_session: bool,
    /// Its name, when it has one.
    pub(crate) operation_name: Option<String>,
    /// Whether async-graphql's validation passed this operation before. Without
    /// variables, what it decides depends on the document and the schema alone, so an
    /// operation without variables that passed once passes again (see
    /// [`Admitted::known_valid`]).
    pub(crate) validated: AtomicBool,
}

impl Admitted {
    /// Whether the operation is known to pass async-graphql's validation: it declares no
    /// variables (whose values that validation reads) and passed it before.
    pub(crate) fn known_valid(&self) -> bool {
        self.variables.is_empty() && self.validated.load(Ordering::Relaxed)
    }
}

/// Measures, parses and checks `query`, and picks the operation to run.
pub(crate) fn admit(
    query: &str,
    operation_name: Option<&str>,
    limits: &Limits,
    types: &TypeIndex,
) -> Result<Admitted, Refusal> {
    let max_bytes = limits.max_document_bytes as usize;
    if query.len() > max_bytes {
        return Err(Refusal::limit(
            "document_bytes",
            format!(
                "the query is {} bytes long; at most {max_bytes} are allowed",
                query.len()
            ),
        ));
    }
    let max_nesting = limits.max_nesting as usize;
    if text::nesting_within(query, max_nesting).is_none() {
        return Err(too_deep(max_nesting));
    }
    let document = async_graphql::parser::parse_query(query)
        .map_err(|error| AppError::bad_input(error.to_string()))?;
    let fragments = Fragments::measure(&document).map_err(|cycle| {
        AppError::bad_input(format!(
            "fragment `{}` spreads itself: {}",
            cycle.0[0],
            cycle.0.join(" → ")
        ))
    })?;
    check_measures(&document, &fragments, limits)?;
    types.check(&document)?;
    let (name, operation) = selected_operation(&document, operation_name)?;
    let operation_name = name.map(ToString::to_string);
    let needs_session = fragments
        .top_field_names(&operation.selection_set.node)
        .iter()
        .any(|name| !OPEN_ROOT_FIELDS.contains(name));
    let selection = operation.selection_set.node.clone();
    let ty = operation.ty;
    let variables = operation.variable_definitions.clone();
    Ok(Admitted {
        document,
        selection,
        ty,
        variables,
        needs_session,
        operation_name,
        validated: AtomicBool::new(false),
    })
}

impl Admitted {
    /// Completes the request's `variables` as the GraphQL spec's CoerceVariableValues
    /// does: a variable left out takes its default, and a required one without a default
    /// is a request error. async-graphql 7.2.1 skips this for directives — it evaluates
    /// `@include(if: $x)` with `$x` left out as false whatever its default, and runs an
    /// operation whose required variable is missing as if nothing were selected — so the
    /// service does it before async-graphql sees the request.
    pub(crate) fn complete_variables(&self, variables: &mut Variables) -> Result<(), AppError> {
        for definition in &self.variables {
            let definition = &definition.node;
            let name = &definition.name.node;
            if variables.contains_key(name) {
                continue;
            }
            if let Some(default) = &definition.default_value {
                variables.insert(name.clone(), default.node.clone());
            } else if !definition.var_type.node.nullable {
                return Err(AppError::bad_input(format!(
                    "the variable `${name}` of type `{}` is required: send it in `variables`",
                    definition.var_type.node
                )));
            }
        }
        Ok(())
    }
}

/// Applies the limits to every operation of the document (async-graphql validates them
/// all, not only the one that runs) and to the fragments none of them uses.
fn check_measures(
    document: &ExecutableDocument,
    fragments: &Fragments<'_>,
    limits: &Limits,
) -> Result<(), Refusal> {
    let mut selections = 0u64;
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        let measure = fragments.selection_set(&operation.selection_set.node);
        selections = selections.saturating_add(measure.selections);
        let directives = operation
            .variable_definitions
            .iter()
            .map(|variable| variable.node.directives.len())
            .chain([operation.directives.len()])
            .max()
            .unwrap_or(0);
        check_operation(operation.ty, &measure, directives as u64, limits)?;
    }
    for name in fragments.unreached() {
        if let Some(measure) = fragments.get(name) {
            selections = selections.saturating_add(measure.selections);
            check_directives(measure.directives, limits)?;
            check_nesting(measure.nesting, limits)?;
        }
    }
    let max_selections = u64::from(limits.max_selections);
    if selections > max_selections {
        return Err(Refusal::limit(
            "selections",
            format!(
                "the document expands to {selections} selections once its fragments are spread; at most {max_selections} are allowed"
            ),
        ));
    }
    Ok(())
}

fn check_operation(
    ty: OperationType,
    measure: &Measure,
    directives: u64,
    limits: &Limits,
) -> Result<(), Refusal> {
    check_nesting(measure.nesting, limits)?;
    check_directives(measure.directives.max(directives), limits)?;
    let max_depth = u64::from(limits.max_depth);
    if measure.depth > max_depth {
        return Err(Refusal::limit(
            "depth",
            format!(
                "the operation nests fields {} deep; at most {max_depth} are allowed",
                measure.depth
            ),
        ));
    }
    if measure.introspection_depth > INTROSPECTION_MAX_DEPTH {
        return Err(Refusal::limit(
            "introspection_depth",
            format!(
                "the operation's introspection nests fields {} deep; at most {INTROSPECTION_MAX_DEPTH} are allowed",
                measure.introspection_depth
            ),
        ));
    }
    if measure.introspection_lists > INTROSPECTION_MAX_LISTS {
        return Err(Refusal::limit(
            "introspection_lists",
            format!(
                "the operation's introspection nests {} lists of the schema's parts (types, fields, args, …) in one another; at most {INTROSPECTION_MAX_LISTS} are allowed",
                measure.introspection_lists
            ),
        ));
    }
    let max_root_fields = u64::from(limits.max_root_fields);
    if measure.top_fields > max_root_fields {
        return Err(Refusal::limit(
            "root_fields",
            format!(
                "the operation selects {} root fields; at most {max_root_fields} are allowed",
                measure.top_fields
            ),
        ));
    }
    let max_aliases = u64::from(limits.max_aliases);
    if measure.aliases > max_aliases {
        return Err(Refusal::limit(
            "aliases",
            format!(
                "the operation uses {} aliases; at most {max_aliases} are allowed",
                measure.aliases
            ),
        ));
    }
    // Each login checks a password with argon2: one per request keeps that cost per
    // request, and the throttle meaningful.
    if ty == OperationType::Mutation && measure.top_logins > 1 {
        return Err(Refusal::limit(
            "logins",
            AppError::bad_input(format!(
                "the operation logs in {} times; send one `login` per request",
                measure.top_logins
            )),
        ));
    }
    Ok(())
}

fn check_nesting(nesting: u64, limits: &Limits) -> Result<(), Refusal> {
    let max_nesting = limits.max_nesting as usize;
    if nesting > max_nesting as u64 {
        return Err(too_deep(max_nesting));
    }
    Ok(())
}

fn check_directives(directives: u64, limits: &Limits) -> Result<(), Refusal> {
    let max_directives = u64::from(limits.max_directives);
    if directives > max_directives {
        return Err(Refusal::limit(
            "directives",
            format!(
                "a selection, fragment or operation carries {directives} directives; at most {max_directives} are allowed"
            ),
        ));
    }
    Ok(())
}

fn too_deep(max_nesting: usize) -> Refusal {
    Refusal::limit(
        "nesting",
        format!(
            "the document nests more than {max_nesting} levels deep (selections, lists, input objects and fragment spreads count)"
        ),
    )
}

/// A document the service will not run: the error to answer, and the query limit that
/// refused it, if one did (for `/metrics`).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) limit: Option<&'static str>,
    pub(crate) error: AppError,
}

impl Refusal {
    /// Refused by the limit named `limit`: `QUERY_TOO_COMPLEX` with `message`, or the
    /// given error.
    fn limit(limit: &'static str, error: impl Into<LimitError>) -> Self {
        Self {
            limit: Some(limit),
            error: error.into().0,
        }
    }

    /// The error to answer with, the refusal counted in `metrics`.
    pub(crate) fn counted(self, metrics: &crate::metrics::Metrics) -> AppError {
        if let Some(limit) = self.limit {
            metrics.refused(limit);
        }
        self.error
    }
}

/// The error a limit answers with: `QUERY_TOO_COMPLEX` unless said otherwise.
struct LimitError(AppError);

impl From<String> for LimitError {
    fn from(message: String) -> Self {
        Self(AppError::QueryTooComplex(message))
    }
}

impl From<AppError> for LimitError {
    fn from(error: AppError) -> Self {
        Self(error)
    }
}

impl From<AppError> for Refusal {
    fn from(error: AppError) -> Self {
        Self { limit: None, error }
    }
}

/// The operation a request selects: the one named by `operationName`, else the only one.
fn selected_operation<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<(Option<&'d Name>, &'d OperationDefinition), AppError> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Ok((None, &operation.node)),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get_key_value(name)
            .map(|(name, operation)| (Some(name), &operation.node))
            .ok_or_else(|| {
                AppError::bad_input(format!("the document has no operation named {name:?}"))
            }),
        // async-graphql parses one named operation as `Multiple`.
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .iter()
            .next()
            .map(|(name, operation)| (Some(name), &operation.node))
            .ok_or_else(|| AppError::bad_input("the document has no operation")),
        (DocumentOperations::Multiple(_), None) => Err(AppError::bad_input(
            "the document has several operations: say which to run with `operationName`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The distinct names of the first operation's root fields.
    fn root_names(query: &str) -> HashSet<String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let fragments = Fragments::measure(&document).unwrap();
        let operation = document.operations.iter().next().unwrap().1;
        fragments
            .top_field_names(&operation.node.selection_set.node)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn admitted(query: &str) -> Result<Admitted, String> {
        let types = TypeIndex::of_sdl(&crate::graphql::sdl()).unwrap();
        admit(query, None, &Limits::default(), &types).map_err(|refusal| refusal.error.to_string())
    }

    #[test]
    fn one_named_operation_runs_without_an_operation_name() {
        let admitted = admitted("query Settings { settings { maxPageSize } }").unwrap();
        assert!(admitted.needs_session);
        assert_eq!(admitted.ty, OperationType::Query);
    }

    #[test]
    fn the_root_fields_the_server_reads_by_name_are_the_schemas() {
        let types = TypeIndex::of_sdl(&crate::graphql::sdl()).unwrap();
        assert!(types.field_type("Mutation", LOGIN_FIELD).is_some());
    }

    #[test]
    fn login_and_introspection_need_no_session() {
        assert!(
            !admitted("mutation { login(email: \"a\", password: \"b\") { token } }")
                .unwrap()
                .needs_session
        );
        assert!(
            !admitted("{ __typename __schema { queryType { name } } }")
                .unwrap()
                .needs_session
        );
        assert!(
            admitted("{ ...F } fragment F on Query { ... on Query { viewer { name } } }")
                .unwrap()
                .needs_session
        );
        assert_eq!(
            root_names(
                "{ ...F } fragment F on Query { ... on Query { viewer { name } } __typename }"
            ),
            HashSet::from(["viewer".to_owned(), "__typename".to_owned()])
        );
    }

    #[test]
    fn two_logins_are_refused() {
        let error = admitted(
            "mutation { a: login(email: \"a\", password: \"b\") { token } b: login(email: \"a\", password: \"c\") { token } }",
        )
        .err()
        .unwrap();
        assert_eq!(
            error,
            "the operation logs in 2 times; send one `login` per request"
        );
    }

    #[test]
    fn every_operation_is_measured_not_only_the_one_that_runs() {
        let mut query =
            String::from("query A { settings { maxPageSize } } query B { settings { ...F30 } }\n");
        query.push_str("fragment F0 on ConsoleSettings { maxPageSize }\n");
        for level in 1..=30 {
            let below = level - 1;
            query.push_str(&format!(
                "fragment F{level} on ConsoleSettings {{ ...F{below} ...F{below} }}\n"
            ));
        }
        let types = TypeIndex::of_sdl(&crate::graphql::sdl()).unwrap();
        let refusal = admit(&query, Some("A"), &Limits::default(), &types)
            .err()
            .unwrap();
        assert_eq!(refusal.limit, Some("selections"));
        let error = refusal.error;
        assert!(matches!(error, AppError::QueryTooComplex(_)), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("the document expands to 3221225474 selections"),
            "{error}"
        );
    }

    #[test]
    fn unused_fragments_count_too() {
        let mut query = String::from("{ settings { maxPageSize } }\n");
        query.push_str("fragment F0 on ConsoleSettings { maxPageSize }\n");
        for level in 1..=30 {
            let below = level - 1;
            query.push_str(&format!(
                "fragment F{level} on ConsoleSettings {{ ...F{below} ...F{below} }}\n"
            ));
        }
        assert!(
            admitted(&query)
                .err()
                .unwrap()
                .starts_with("the document expands to")
        );
    }

    #[test]
    fn an_over_long_or_over_deep_text_is_refused_before_parsing() {
        let long = format!("{{ settings {{ maxPageSize }} }} #{}", "x".repeat(70_000));
        assert_eq!(
            admitted(&long).err().unwrap(),
            "the query is 70030 bytes long; at most 65536 are allowed"
        );
        let deep = format!(
            "{{ __typename @skip(if: {}true{}) }}",
            "[".repeat(2_000),
            "]".repeat(2_000)
        );
        assert!(
            admitted(&deep)
                .err()
                .unwrap()
                .starts_with("the document nests more than 64 levels")
        );
    }

    #[test]
    fn a_cycle_is_named() {
        assert_eq!(
            admitted("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
                .err()
                .unwrap(),
            "fragment `A` spreads itself: A → B → A"
        );
    }
}
