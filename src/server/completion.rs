//! Gives a response the shape the GraphQL spec says it has, from what async-graphql 7
//! returns.
//!
//! - **Order** (§7.2.2, "Serialized Map Ordering"): response maps follow the selection
//!   set. async-graphql resolves sibling fields concurrently and records them as they
//!   finish, so a field backed by a loader lands after its synchronous siblings.
//! - **Field errors** (§6.4.4, "Handling Field Errors"): a field that raised an error is
//!   null, and when its type is non-null the null travels up to the nearest nullable
//!   field (or to `data`). async-graphql 7.2.1 instead leaves the field's key out, and
//!   answers null for an object all of whose fields failed — so
//!   `{ rbac { canaryResults } }` without `sensitive.view` read `"rbac": null` and the
//!   error's path named a key that was not there.
//! - **Empty selections**: an object whose every field was skipped is `{}`, not null.
//! - **`__schema { description }`** is null: the schema has no description (the SDL
//!   prints none), where async-graphql answers a fixed text about GraphQL itself, which
//!   made GraphiQL's and Inspector's view of the schema differ from `schema.graphql`.
//!
//! The walk goes down the response beside the executed operation, with the schema's
//! field types ([`TypeIndex`]) and the request's variables (defaults applied) to evaluate
//! `@skip`/`@include` as CollectFields does. The errors' paths say which fields failed:
//! a key is due when the response has it or an error names it (a fragment on a concrete
//! type under an interface applies only to values of that type, which the response
//! alone does not say). One case stays as async-graphql answered, because the response
//! cannot tell it apart from a null the resolver returned: a nullable object all of
//! whose fields were skipped is null where `{}` was due.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use async_graphql::parser::types::{
    BaseType, Directive, ExecutableDocument, Selection, SelectionSet, Type,
};
use async_graphql::{Name, PathSegment, Positioned, ServerError, Value, Variables};
use async_graphql_value::Value as InputValue;

use super::document::TypeIndex;

/// How many collections [`Walk::collect`] looks up one by one before hashing.
const FEW: usize = 16;

/// What the walk needs besides the response.
pub(crate) struct Completion<'a> {
    pub(crate) document: &'a ExecutableDocument,
    pub(crate) variables: &'a Variables,
    pub(crate) types: &'a TypeIndex,
}

/// One step of an error's path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    Field(String),
    Index(usize),
}

/// The paths of the errors raised while executing.
struct Failures {
    /// Every path an error names.
    failed: HashSet<Vec<Step>>,
    /// Every proper prefix of those paths: places with a failure below them.
    above: HashSet<Vec<Step>>,
}

impl Failures {
    fn of(errors: &[ServerError]) -> Self {
        let mut failures = Self {
            failed: HashSet::new(),
            above: HashSet::new(),
        };
        for error in errors {
            let path: Vec<Step> = error
                .path
                .iter()
                .map(|segment| match segment {
                    PathSegment::Field(name) => Step::Field(name.clone()),
                    PathSegment::Index(index) => Step::Index(*index),
                })
                .collect();
            for end in 0..path.len() {
                failures.above.insert(path[..end].to_vec());
            }
            failures.failed.insert(path);
        }
        failures
    }
}

/// A response key of a selection set, with what the walk needs to complete its value.
struct Collected<'d> {
    key: &'d Name,
    /// The field's name.
    name: &'d str,
    /// The field's type; `None` for introspection's fields, left as they are.
    ty: Option<&'d Type>,
    /// The selection sets of every field merged under the key.
    sets: Vec<&'d SelectionSet>,
}

impl Completion<'_> {
    /// Orders `data`, the answer to the operation of type `root` selecting `selection`,
    /// and nulls failed fields as the spec says. `errors` are the response's; with one
    /// that has no path (a request error, or a timeout) `data` is left as it is.
    pub(crate) fn complete(
        &self,
        root: &str,
        selection: &SelectionSet,
        errors: &[ServerError],
        data: &mut Value,
    ) {
        if errors.iter().any(|error| error.path.is_empty()) {
            return;
        }
        let failures = Failures::of(errors);
        let mut walk = Walk {
            completion: self,
            failures: &failures,
            path: Vec::new(),
            few: Vec::new(),
            collected: HashMap::new(),
        };
        if matches!(data, Value::Null) {
            *data = Value::Object(Default::default());
        }
        walk.object(root, &[selection], data);
    }
}

/// The fields [`Walk::collect`] found for a type and selection sets.
struct Collection<'d> {
    ty: String,
    sets: Vec<*const SelectionSet>,
    fields: Rc<[Collected<'d>]>,
}

struct Walk<'a, 'd> {
    completion: &'a Completion<'d>,
    failures: &'a Failures,
    path: Vec<Step>,
    /// What [`Walk::collect`] found, by type and selection sets: every item of a list
    /// collects the same fields. The first [`FEW`] are looked up one by one (a response
    /// holds few distinct ones, and hashing the key for every object of a long list was
    /// a measured share of the walk); the rest by a hash of the type and the sets'
    /// addresses. Finding a known entry allocates nothing.
    few: Vec<Collection<'d>>,
    collected: HashMap<u64, Vec<Collection<'d>>>,
}

impl<'d> Walk<'_, 'd> {
    /// Completes the value of a field of type `ty`; returns whether it is null.
    fn value(&mut self, ty: &'d Type, sets: &[&'d SelectionSet], value: &mut Value) -> bool {
        if self.failed() {
            return matches!(value, Value::Null);
        }
        match (&ty.base, &mut *value) {
            (_, Value::Null) if !self.failure_below() => {
                // A null the resolver returned, or an object whose every field was
                // skipped; the latter is `{}`, and cannot be null when non-null.
                if ty.nullable || sets.is_empty() {
                    return true;
                }
                *value = Value::Object(Default::default());
                let BaseType::Named(name) = &ty.base else {
                    return true;
                };
                self.object(name, sets, value)
            }
            (BaseType::List(item), Value::List(items)) => {
                for (index, element) in items.iter_mut().enumerate() {
                    self.enter(|| Step::Index(index));
                    let null = self.value(item, sets, element);
                    self.leave();
                    if null && !item.nullable {
                        *value = Value::Null;
                        return true;
                    }
                }
                false
            }
            (BaseType::Named(name), _) if !sets.is_empty() => {
                if matches!(value, Value::Null) {
                    // Every field below failed: async-graphql answered null for the
                    // object; it is an object whose failed fields are null.
                    *value = Value::Object(Default::default());
                }
                self.object(name, sets, value)
            }
            (_, value) => matches!(value, Value::Null),
        }
    }

    /// Completes an object of static type `ty` selecting `sets`; returns whether it had
    /// to be nulled (a non-null field of it is null).
    fn object(&mut self, ty: &str, sets: &[&'d SelectionSet], value: &mut Value) -> bool {
        let Value::Object(map) = value else {
            return matches!(value, Value::Null);
        };
        let collected = self.collect(ty, sets);
        let mut nulled = false;
        let in_order = map.len() == collected.len()
            && map
                .keys()
                .zip(collected.iter())
                .all(|(key, field)| key == field.key);
        if in_order {
            // The usual case: every key is there, in the selection's order.
            for (field, child) in collected.iter().zip(map.values_mut()) {
                self.enter(|| Step::Field(field.key.to_string()));
                nulled |= self.field(field, child);
                self.leave();
            }
        } else {
            let mut unordered = std::mem::take(map);
            for field in collected.iter() {
                self.enter(|| Step::Field(field.key.to_string()));
                let child = match unordered.shift_remove(field.key) {
                    Some(child) => Some(child),
                    None if self.failed() => Some(Value::Null),
                    // Skipped by its type condition, or never due.
                    None => None,
                };
                if let Some(mut child) = child {
                    nulled |= self.field(field, &mut child);
                    map.insert(field.key.clone(), child);
                }
                self.leave();
            }
            // Anything the walk did not foresee keeps its place after the rest.
            map.extend(unordered);
        }
        if nulled {
            *value = Value::Null;
        }
        nulled
    }

    /// Completes the value of `field`; returns whether it is null where its type says
    /// it cannot be.
    fn field(&mut self, field: &Collected<'d>, child: &mut Value) -> bool {
        if let Some(ty) = field.ty {
            let null = self.value(ty, &field.sets, child);
            return null && !ty.nullable;
        }
        if field.name == "__schema" {
            self.forget_schema_description(&field.sets, child);
        }
        false
    }

    /// Steps down to `step`. The path is kept only when some error names a path: it is
    /// only ever compared with those.
    fn enter(&mut self, step: impl FnOnce() -> Step) {
        if !self.failures.failed.is_empty() {
            self.path.push(step());
        }
    }

    /// Steps back up.
    fn leave(&mut self) {
        self.path.pop();
    }

    /// Whether an error names the current path.
    fn failed(&self) -> bool {
        !self.failures.failed.is_empty() && self.failures.failed.contains(&self.path)
    }

    /// Whether an error names a path below the current one.
    fn failure_below(&self) -> bool {
        !self.failures.failed.is_empty() && self.failures.above.contains(&self.path)
    }

    /// Nulls `description` in an answer of `__schema`.
    fn forget_schema_description(&mut self, sets: &[&'d SelectionSet], value: &mut Value) {
        let Value::Object(map) = value else {
            return;
        };
        for field in self.collect("__Schema", sets).iter() {
            if field.name == "description"
                && let Some(description) = map.get_mut(field.key)
            {
                *description = Value::Null;
            }
        }
    }

    /// CollectFields: the response keys of `sets` on a value of type `ty`, in document
    /// order, with `@skip`/`@include` evaluated. A fragment spread twice adds nothing
    /// the first spread did not, so each is visited once. Worked out once per type and
    /// selection sets.
    fn collect(&mut self, ty: &str, sets: &[&'d SelectionSet]) -> Rc<[Collected<'d>]> {
        use std::hash::{BuildHasher, Hash, Hasher};
        let same = |known: &Collection<'d>| {
            known.ty == ty
                && known.sets.len() == sets.len()
                && known
                    .sets
                    .iter()
                    .zip(sets)
                    .all(|(known, set)| std::ptr::eq(*known, *set))
        };
        if let Some(known) = self.few.iter().find(|known| same(known)) {
            return known.fields.clone();
        }
        if self.few.len() < FEW {
            let collection = self.collection(ty, sets);
            let fields = collection.fields.clone();
            self.few.push(collection);
            return fields;
        }
        let mut hasher = self.collected.hasher().build_hasher();
        ty.hash(&mut hasher);
        for set in sets {
            std::ptr::from_ref(*set).hash(&mut hasher);
        }
        if let Some(bucket) = self.collected.get(&hasher.finish())
            && let Some(known) = bucket.iter().find(|known| same(known))
        {
            return known.fields.clone();
        }
        let collection = self.collection(ty, sets);
        let fields = collection.fields.clone();
        self.collected
            .entry(hasher.finish())
            .or_default()
            .push(collection);
        fields
    }

    /// The fields of `ty` that `sets` select, collected.
    fn collection(&self, ty: &str, sets: &[&'d SelectionSet]) -> Collection<'d> {
        let mut collector = Collector {
            completion: self.completion,
            fields: Vec::new(),
            visited: HashSet::new(),
        };
        for set in sets {
            collector.set(set, ty);
        }
        Collection {
            ty: ty.to_owned(),
            sets: sets.iter().map(|set| std::ptr::from_ref(*set)).collect(),
            fields: collector.fields.into(),
        }
    }
}

struct Collector<'a, 'd> {
    completion: &'a Completion<'d>,
    fields: Vec<Collected<'d>>,
    visited: HashSet<&'d str>,
}

impl<'d> Collector<'_, 'd> {
    /// Collects `set`, whose fields belong to the type `parent`.
    fn set(&mut self, set: &'d SelectionSet, parent: &str) {
        let completion = self.completion;
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = &field.response_key().node;
                    let child = &field.selection_set.node;
                    match self.fields.iter_mut().find(|known| known.key == key) {
                        Some(known) => {
                            if !known.sets.iter().any(|set| std::ptr::eq(*set, child)) {
                                known.sets.push(child);
                            }
                        }
                        None => {
                            let name = field.name.node.as_str();
                            let ty = if name == "__typename" {
                                Some(&*TYPENAME)
                            } else {
                                completion.types.field_type(parent, name)
                            };
                            self.fields.push(Collected {
                                key,
                                name,
                                ty,
                                sets: vec![child],
                            });
                        }
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    if !self.included(&spread.directives) {
                        continue;
                    }
                    let name = spread.fragment_name.node.as_str();
                    if !self.visited.insert(name) {
                        continue;
                    }
                    if let Some(fragment) = completion.document.fragments.get(name) {
                        let fragment = &fragment.node;
                        let on = fragment.type_condition.node.on.node.as_str();
                        self.set(&fragment.selection_set.node, on);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    if !self.included(&inline.directives) {
                        continue;
                    }
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map_or(parent, |condition| condition.node.on.node.as_str());
                    self.set(&inline.selection_set.node, on);
                }
            }
        }
    }

    /// Whether `@skip` and `@include` keep a selection.
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let directive = &directive.node;
            let wanted = match directive.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return true,
            };
            match directive.get_argument("if").map(|value| &value.node) {
                Some(InputValue::Boolean(value)) => *value == wanted,
                Some(InputValue::Variable(name)) => {
                    matches!(self.completion.variables.get(name), Some(Value::Boolean(value)) if *value == wanted)
                }
                // The validator refuses anything else.
                _ => true,
            }
        })
    }
}

/// The type of `__typename`.
static TYPENAME: std::sync::LazyLock<Type> = std::sync::LazyLock::new(|| Type {
    base: BaseType::Named(Name::new("String")),
    nullable: false,
});
