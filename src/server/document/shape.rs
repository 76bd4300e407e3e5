//! What a parsed document expands to once every fragment spread is replaced by the
//! fragment it names — measured without expanding anything.
//!
//! A fragment's measures are computed once, after those of the fragments it spreads, and
//! a spread adds them: `fragment F1 { ...F0 ...F0 } … fragment F39 { ...F38 ...F38 }`
//! costs forty small sums here, where a pass that follows spreads would visit 2^40
//! selections. The order comes from a depth-first walk with its own stack (a chain of
//! thousands of fragments must not recurse thousands of times), which also finds cycles.
//! Within one definition the walk recurses, but only as deep as the text nests, which
//! [`super::text`] has bounded already.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

use crate::graphql::types::operator::LOGIN_FIELD;

/// What a selection set expands to. Counts saturate rather than overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Measure {
    /// Selections — fields, fragment spreads, inline fragments — at every level.
    pub(crate) selections: u64,
    /// Aliased fields at every level.
    pub(crate) aliases: u64,
    /// Fields at the top level (the root fields of an operation).
    pub(crate) top_fields: u64,
    /// `login` fields at the top level.
    pub(crate) top_logins: u64,
    /// Fields nested in fields: a leaf field is 1 deep, `a { b }` 2.
    pub(crate) depth: u64,
    /// Levels a pass that follows spreads descends: each field with a selection set, each
    /// inline fragment and each fragment spread is one.
    pub(crate) nesting: u64,
    /// Most directives on one selection.
    pub(crate) directives: u64,
    /// How deep introspection (`__schema`, `__type`) nests, counted apart from `depth`:
    /// the standard introspection query nests `ofType` nine levels on its own.
    pub(crate) introspection_depth: u64,
    /// Most list fields of introspection's types ([`TYPE_LISTS`]) along one path: each
    /// one multiplies the answer by a part of the schema.
    pub(crate) type_lists: u64,
    /// `type_lists` within `__schema` and `__type`.
    pub(crate) introspection_lists: u64,
}

/// The fields of introspection's types that list parts of the schema.
const TYPE_LISTS: [&str; 8] = [
    "types",
    "fields",
    "args",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
];

impl Measure {
    fn add_sibling(&mut self, other: Measure) {
        self.selections = self.selections.saturating_add(other.selections);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.top_fields = self.top_fields.saturating_add(other.top_fields);
        self.top_logins = self.top_logins.saturating_add(other.top_logins);
        self.depth = self.depth.max(other.depth);
        self.nesting = self.nesting.max(other.nesting);
        self.directives = self.directives.max(other.directives);
        self.introspection_depth = self.introspection_depth.max(other.introspection_depth);
        self.type_lists = self.type_lists.max(other.type_lists);
        self.introspection_lists = self.introspection_lists.max(other.introspection_lists);
    }
}

/// A fragment that spreads itself, directly or through others: the names along the way,
/// the first repeated at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cycle(pub(crate) Vec<String>);

/// The measures of every fragment of a document.
pub(crate) struct Fragments<'d> {
    document: &'d ExecutableDocument,
    measures: HashMap<&'d str, Measure>,
}

impl<'d> Fragments<'d> {
    /// Measures every fragment of `document`, or finds a cycle among them.
    pub(crate) fn measure(document: &'d ExecutableDocument) -> Result<Self, Cycle> {
        let mut fragments = Self {
            document,
            measures: HashMap::with_capacity(document.fragments.len()),
        };
        for name in fragments.dependency_order()? {
            if let Some(fragment) = document.fragments.get(name) {
                let measure = fragments.fragment(&fragment.node);
                fragments.measures.insert(name, measure);
            }
        }
        Ok(fragments)
    }

    /// What `set` expands to.
    pub(crate) fn selection_set(&self, set: &SelectionSet) -> Measure {
        let mut total = Measure::default();
        for selection in &set.items {
            let item = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = self.selection_set(&field.selection_set.node);
                    let has_children = !field.selection_set.node.items.is_empty();
                    let name = field.name.node.as_str();
                    let is_login = name == LOGIN_FIELD;
                    let type_lists = inner
                        .type_lists
                        .saturating_add(u64::from(TYPE_LISTS.contains(&name)));
                    let depth = inner.depth.saturating_add(1);
                    let introspection = matches!(name, "__schema" | "__type");
                    Measure {
                        selections: inner.selections.saturating_add(1),
                        aliases: inner
                            .aliases
                            .saturating_add(u64::from(field.alias.is_some())),
                        top_fields: 1,
                        top_logins: u64::from(is_login),
                        depth: if introspection { 1 } else { depth },
                        introspection_depth: if introspection {
                            depth
                        } else {
                            inner.introspection_depth
                        },
                        type_lists,
                        introspection_lists: if introspection {
                            type_lists
                        } else {
                            inner.introspection_lists
                        },
                        nesting: if has_children {
                            inner.nesting.saturating_add(1)
                        } else {
                            0
                        },
                        directives: inner.directives.max(field.directives.len() as u64),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    // A spread of a fragment the document lacks adds only itself: the
                    // validator reports it.
                    let inner = self
                        .measures
                        .get(spread.fragment_name.node.as_str())
                        .copied()
                        .unwrap_or_default();
                    Self::wrapped(inner, spread.directives.len())
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let inner = self.selection_set(&inline.selection_set.node);
                    Self::wrapped(inner, inline.directives.len())
                }
            };
            total.add_sibling(item);
        }
        total
    }

    /// A fragment spread or inline fragment around `inner`: one selection and one level
    /// more, its fields still at the top.
    fn wrapped(inner: Measure, directives: usize) -> Measure {
        Measure {
            selections: inner.selections.saturating_add(1),
            nesting: inner.nesting.saturating_add(1),
            directives: inner.directives.max(directives as u64),
            ..inner
        }
    }

    fn fragment(&self, fragment: &FragmentDefinition) -> Measure {
        let mut measure = self.selection_set(&fragment.selection_set.node);
        measure.directives = measure.directives.max(fragment.directives.len() as u64);
        measure
    }

    /// Every fragment after the fragments it spreads, by a depth-first walk with an
    /// explicit stack; a spread back into the walk's own path is a cycle.
    fn dependency_order(&self) -> Result<Vec<&'d str>, Cycle> {
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum State {
            Open,
            Done,
        }
        let document = self.document;
        let mut names: Vec<&'d str> = document.fragments.keys().map(Name::as_str).collect();
        // Sorted, so that the cycle reported for a document is always the same one.
        names.sort_unstable();
        let mut state: HashMap<&'d str, State> = HashMap::with_capacity(names.len());
        let mut order = Vec::with_capacity(names.len());
        for start in names {
            if state.contains_key(start) {
                continue;
            }
            let mut path: Vec<(&'d str, Vec<&'d str>)> = vec![(start, self.spreads_of(start))];
            state.insert(start, State::Open);
            while let Some((name, pending)) = path.last_mut() {
                let name = *name;
                match pending.pop() {
                    Some(next) => match state.get(next) {
                        Some(State::Done) => {}
                        Some(State::Open) => {
                            let from = path.iter().position(|(open, _)| *open == next);
                            let mut cycle: Vec<String> = path[from.unwrap_or(0)..]
                                .iter()
                                .map(|(open, _)| (*open).to_owned())
                                .collect();
                            cycle.push(next.to_owned());
                            return Err(Cycle(cycle));
                        }
                        None => {
                            state.insert(next, State::Open);
                            path.push((next, self.spreads_of(next)));
                        }
                    },
                    None => {
                        state.insert(name, State::Done);
                        order.push(name);
                        path.pop();
                    }
                }
            }
        }
        Ok(order)
    }

    /// The fragments of this document that `name` spreads, each once, last first.
    fn spreads_of(&self, name: &str) -> Vec<&'d str> {
        fn collect<'d>(
            set: &'d SelectionSet,
            known: &HashMap<Name, Positioned<FragmentDefinition>>,
            seen: &mut HashSet<&'d str>,
            out: &mut Vec<&'d str>,
        ) {
            for selection in &set.items {
                match &selection.node {
                    Selection::Field(field) => {
                        collect(&field.node.selection_set.node, known, seen, out);
                    }
                    Selection::InlineFragment(inline) => {
                        collect(&inline.node.selection_set.node, known, seen, out);
                    }
                    Selection::FragmentSpread(spread) => {
                        let target = spread.node.fragment_name.node.as_str();
                        if known.contains_key(target) && seen.insert(target) {
                            out.push(target);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        if let Some(fragment) = self.document.fragments.get(name) {
            let mut seen = HashSet::new();
            collect(
                &fragment.node.selection_set.node,
                &self.document.fragments,
                &mut seen,
                &mut out,
            );
        }
        out.reverse();
        out
    }

    /// The fragments no operation of the document reaches, which the validator still
    /// walks.
    pub(crate) fn unreached(&self) -> Vec<&'d str> {
        let mut reached: HashSet<&'d str> = HashSet::new();
        let mut pending: Vec<&'d str> = Vec::new();
        for (_, operation) in self.document.operations.iter() {
            spreads_in(&operation.node.selection_set.node, &mut pending);
        }
        while let Some(name) = pending.pop() {
            if reached.insert(name)
                && let Some(fragment) = self.document.fragments.get(name)
            {
                spreads_in(&fragment.node.selection_set.node, &mut pending);
            }
        }
        let mut unreached: Vec<&'d str> = self
            .document
            .fragments
            .keys()
            .map(Name::as_str)
            .filter(|name| !reached.contains(name))
            .collect();
        unreached.sort_unstable();
        unreached
    }

    /// The measure of the fragment `name`, if the document defines it.
    pub(crate) fn get(&self, name: &str) -> Option<Measure> {
        self.measures.get(name).copied()
    }

    /// The names of the fields at the top of `set`, through its fragments, each fragment
    /// visited once.
    pub(crate) fn top_field_names(&self, set: &'d SelectionSet) -> HashSet<&'d str> {
        let mut names = HashSet::new();
        let mut visited: HashSet<&'d str> = HashSet::new();
        let mut pending: Vec<&'d SelectionSet> = vec![set];
        while let Some(set) = pending.pop() {
            for selection in &set.items {
                match &selection.node {
                    Selection::Field(field) => {
                        names.insert(field.node.name.node.as_str());
                    }
                    Selection::InlineFragment(inline) => {
                        pending.push(&inline.node.selection_set.node);
                    }
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        if visited.insert(name)
                            && let Some(fragment) = self.document.fragments.get(name)
                        {
                            pending.push(&fragment.node.selection_set.node);
                        }
                    }
                }
            }
        }
        names
    }
}

/// Adds the names of the fragments spread anywhere in `set` to `out`.
fn spreads_in<'d>(set: &'d SelectionSet, out: &mut Vec<&'d str>) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => spreads_in(&field.node.selection_set.node, out),
            Selection::InlineFragment(inline) => spreads_in(&inline.node.selection_set.node, out),
            Selection::FragmentSpread(spread) => out.push(spread.node.fragment_name.node.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn measure_of(query: &str) -> Result<Measure, Cycle> {
        let document = parse_query(query).unwrap();
        let fragments = Fragments::measure(&document)?;
        let mut total = Measure::default();
        for (_, operation) in document.operations.iter() {
            total.add_sibling(fragments.selection_set(&operation.node.selection_set.node));
        }
        Ok(total)
    }

    /// `F0` one field, each next fragment spreading the one before twice.
    fn doubling(levels: usize) -> String {
        let mut query = format!("{{ settings {{ ...F{} }} }}\n", levels - 1);
        query.push_str("fragment F0 on ConsoleSettings { maxPageSize }\n");
        for level in 1..levels {
            let below = level - 1;
            query.push_str(&format!(
                "fragment F{level} on ConsoleSettings {{ ...F{below} ...F{below} }}\n"
            ));
        }
        query
    }

    #[test]
    fn a_fragment_bomb_is_measured_without_being_expanded() {
        let query = doubling(41);
        assert!(query.len() < 3_000, "{} bytes", query.len());
        let started = std::time::Instant::now();
        let measure = measure_of(&query).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // 2^40 `maxPageSize` fields, 2^41 - 1 spreads, and `settings`.
        assert_eq!(measure.selections, (1u64 << 40) + (1u64 << 41));
        assert_eq!(measure.depth, 2);
        assert_eq!(measure.nesting, 42);
        assert_eq!(measure.top_fields, 1);
    }

    #[test]
    fn spreads_add_what_their_fragment_holds() {
        let measure = measure_of(
            "{ a: settings { ...S ...S } login } fragment S on ConsoleSettings { x: maxPageSize staleCheckHours }",
        )
        .unwrap();
        assert_eq!(measure.selections, 2 + 2 + 2 * 2);
        assert_eq!(measure.aliases, 1 + 2);
        assert_eq!(measure.top_fields, 2);
        assert_eq!(measure.top_logins, 1);
        assert_eq!(measure.depth, 2);
        assert_eq!(measure.nesting, 2);
    }

    #[test]
    fn root_fields_are_counted_through_fragments_at_any_depth() {
        let mut query = String::from(
            "{ ...R30 }\nfragment R0 on Query { login: settings { maxPageSize } viewer { name } }\n",
        );
        for level in 1..=30 {
            let below = level - 1;
            query.push_str(&format!(
                "fragment R{level} on Query {{ ... on Query {{ ...R{below} }} }}\n"
            ));
        }
        let document = parse_query(&query).unwrap();
        let fragments = Fragments::measure(&document).unwrap();
        let operation = document.operations.iter().next().unwrap().1;
        let measure = fragments.selection_set(&operation.node.selection_set.node);
        assert_eq!(measure.top_fields, 2);
        assert_eq!(measure.top_logins, 0, "an alias named login is not a login");
        let names = fragments.top_field_names(&operation.node.selection_set.node);
        assert_eq!(names, HashSet::from(["settings", "viewer"]));
    }

    #[test]
    fn a_fragment_that_spreads_itself_is_a_cycle() {
        let cycle = measure_of(
            "{ ...A } fragment A on Query { ...B } fragment B on Query { settings { maxPageSize } ...C } fragment C on Query { ...A }",
        )
        .unwrap_err();
        assert_eq!(
            cycle,
            Cycle(vec!["A".into(), "B".into(), "C".into(), "A".into()])
        );
        let direct = measure_of("{ ...A } fragment A on Query { ...A }").unwrap_err();
        assert_eq!(direct, Cycle(vec!["A".into(), "A".into()]));
    }

    #[test]
    fn a_long_chain_of_fragments_is_walked_without_recursion() {
        let mut query = String::from("{ ...F0 }\n");
        for index in 0..50_000 {
            query.push_str(&format!(
                "fragment F{index} on Query {{ ...F{} }}\n",
                index + 1
            ));
        }
        query.push_str("fragment F50000 on Query { __typename }\n");
        let measure = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || measure_of(&query))
            .unwrap()
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(measure.nesting, 50_001);
        assert_eq!(measure.selections, 50_002);
    }

    #[test]
    fn unknown_fragments_add_only_their_spread() {
        let measure = measure_of("{ ...Nowhere settings { maxPageSize } }").unwrap();
        assert_eq!(measure.selections, 3);
    }

    #[test]
    fn fragments_no_operation_reaches_are_found() {
        let document = parse_query(
            "{ ...A } fragment A on Query { ...B } fragment B on Query { __typename } fragment U on Query { ...B }",
        )
        .unwrap();
        let fragments = Fragments::measure(&document).unwrap();
        assert_eq!(fragments.unreached(), vec!["U"]);
    }

    #[test]
    fn the_most_directives_on_one_selection_are_found() {
        let measure =
            measure_of("{ settings { maxPageSize @skip(if: false) @include(if: true) } }").unwrap();
        assert_eq!(measure.directives, 2);
    }
}
