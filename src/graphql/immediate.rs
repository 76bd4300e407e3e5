//! Objects answered at once. async-graphql resolves every selected field of an object
//! as a boxed future of its own, gathered in a `FuturesUnordered`, and every item of a
//! list as a future too, each loading its edges one key at a time: most of the service's
//! time on a list page (issue #13's tenant board). The objects that lists show most —
//! tenants, their workspace, provider connections and permissions — are wrapped in
//! [`Immediate`], and a connection's `nodes` is a [`List`]: when every field the
//! selection asks for is a plain one (no argument, no directive, no fragment, no guard;
//! an edge only to another such object), each edge is loaded once for the whole list
//! (`Loaders::load_now`: the batch the per-item loads would make, with no task of its
//! own) and the objects are answered directly from their rows, with the same values. Any other selection, and any load
//! that fails or finds a broken reference, takes async-graphql's own path unchanged,
//! which reports errors where they belong; the loaders keep what was loaded, so that
//! costs no second statement.
//!
//! The values must be those of the `#[Object]` resolvers; `tests/api/immediate.rs` asks
//! for every plain field both ways and compares the answers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{EnumType, resolve_list};
use async_graphql::{
    ContextSelectionSet, InputType, Name, ObjectType, OutputType, Positioned, ServerResult, Value,
};

use super::scope::Scope;

/// A GraphQL object whose plain fields can be answered without async-graphql's
/// per-field futures.
pub(crate) trait Plain: ObjectType + Sync {
    /// What the object's edges need loaded before its answer (rows of other objects);
    /// `()` for objects answered from their own row alone.
    type Loaded: Send;

    /// The fields answered from the object's own row: no arguments, no guard, no
    /// selection of their own.
    const LEAVES: &'static [&'static str];

    /// Whether `field` is an edge answered at once: no arguments, no guard, and a
    /// selection its target answers at once (see [`edge_to`]). None by default.
    fn edge(_field: &Field) -> bool {
        false
    }

    /// Loads what the edges selected in `selection` need, for every object of a list at
    /// once (one batch per edge, not one key per object), in the objects' order; `None`
    /// when a load failed or a reference is broken, so that async-graphql's path reports
    /// it.
    fn load(
        objects: &[Self],
        scope: &Scope,
        selection: &SelectionSet,
    ) -> impl Future<Output = Option<Vec<Self::Loaded>>> + Send
    where
        Self: Sized;

    /// The value of a plain `field`, from the object and what was loaded for it.
    fn value(&self, field: &Planned<'_>, loaded: &Self::Loaded) -> Value;
}

/// Whether every selection of `selection` is a plain field of `T`, each answer under its
/// own key (a key selected twice would need its selections merged).
pub(crate) fn answerable<T: Plain>(selection: &SelectionSet) -> bool {
    selection.items.iter().enumerate().all(|(index, item)| {
        let Selection::Field(field) = &item.node else {
            return false;
        };
        let field = &field.node;
        let key = field.response_key();
        let unique = selection.items[..index]
            .iter()
            .all(|earlier| match &earlier.node {
                Selection::Field(earlier) => earlier.node.response_key().node != key.node,
                _ => false,
            });
        unique
            && field.directives.is_empty()
            && (field.name.node == "__typename" || answers::<T>(field))
    })
}

/// Whether `field` (not `__typename`) is a plain field of `T`.
fn answers<T: Plain>(field: &Field) -> bool {
    let leaf = field.arguments.is_empty()
        && field.selection_set.node.items.is_empty()
        && T::LEAVES.contains(&field.name.node.as_str());
    leaf || T::edge(field)
}

/// Whether `field` takes no arguments and selects only plain fields of `T`.
pub(crate) fn edge_to<T: Plain>(field: &Field) -> bool {
    field.arguments.is_empty() && answerable::<T>(&field.selection_set.node)
}

/// A selection of plain fields, prepared once for all the objects of a list: each
/// field's response key is made anew for this request, and each edge's selection is
/// prepared in turn. An answer's keys are clones of these; cloning the document's own
/// names instead, for every object, meant counting references that requests on both
/// worker threads share (admitted documents are kept, see `server::document`): a
/// contended atomic per field and object (issue #13).
pub(crate) struct Plan<'a> {
    fields: Vec<Planned<'a>>,
}

/// One field of a [`Plan`].
pub(crate) struct Planned<'a> {
    key: Name,
    /// The field as the document writes it.
    pub(crate) field: &'a Field,
    /// Its own selection, prepared (empty for a leaf).
    pub(crate) plan: Plan<'a>,
}

impl<'a> Plan<'a> {
    /// `selection` (of fields only, as [`answerable`] checked), prepared.
    pub(crate) fn of(selection: &'a SelectionSet) -> Self {
        let fields = selection
            .items
            .iter()
            .filter_map(|item| match &item.node {
                Selection::Field(field) => Some(&field.node),
                _ => None,
            })
            .map(|field| Planned {
                key: Name::new(field.response_key().node.as_str()),
                field,
                plan: Plan::of(&field.selection_set.node),
            })
            .collect();
        Self { fields }
    }
}

impl Planned<'_> {
    /// The field's name in the schema.
    pub(crate) fn name(&self) -> &str {
        self.field.name.node.as_str()
    }
}

/// The answer of an object whose selection is [`answerable`] (prepared as `plan`), with
/// what was loaded.
pub(crate) fn object<T: Plain>(object: &T, plan: &Plan<'_>, loaded: &T::Loaded) -> Value {
    answer(plan, &T::type_name(), |field| object.value(field, loaded))
}

/// The answer of an object of the type named `type_name` selecting `plan`, each field
/// but `__typename` valued by `value`.
pub(crate) fn answer(
    plan: &Plan<'_>,
    type_name: &str,
    value: impl Fn(&Planned<'_>) -> Value,
) -> Value {
    let mut answer = IndexMap::with_capacity(plan.fields.len());
    for field in &plan.fields {
        let value = if field.name() == "__typename" {
            Value::String(type_name.to_owned())
        } else {
            value(field)
        };
        answer.insert(field.key.clone(), value);
    }
    Value::Object(answer)
}

/// The answer of the objects of a list edge (`field` selects plain fields of `T`).
pub(crate) fn list<T: Plain<Loaded = ()>>(
    objects: impl IntoIterator<Item = T>,
    field: &Planned<'_>,
) -> Value {
    Value::List(
        objects
            .into_iter()
            .map(|item| object(&item, &field.plan, &()))
            .collect(),
    )
}

/// A leaf's value, as its resolver's return type gives it.
pub(crate) fn leaf<V: InputType>(value: V) -> Value {
    value.to_value()
}

/// An enum leaf's value, `enum_leaf!(Type, value)`. [`leaf`] would make the value's name
/// anew every time (a `Name` is an `Arc<str>`): hundreds of allocations for a page's
/// statuses. The names of `Type`'s values are made once per thread and shared within it
/// (shared by both worker threads, their reference counts were contended).
macro_rules! enum_leaf {
    ($ty:ty, $value:expr) => {{
        thread_local! {
            static NAMES: Vec<async_graphql::Name> =
                $crate::graphql::immediate::enum_names::<$ty>();
        }
        NAMES.with(|names| $crate::graphql::immediate::enum_value::<$ty>(names, $value))
    }};
}
pub(crate) use enum_leaf;

/// The names of `T`'s values, in the order of `T::items()`; see [`enum_leaf`].
pub(crate) fn enum_names<T: EnumType>() -> Vec<Name> {
    T::items().iter().map(|item| Name::new(item.name)).collect()
}

/// The value of `value`, named from `names` ([`enum_names`]); see [`enum_leaf`].
pub(crate) fn enum_value<T: EnumType + InputType>(names: &[Name], value: T) -> Value {
    match T::items().iter().position(|item| item.value == value) {
        Some(index) if index < names.len() => Value::Enum(names[index].clone()),
        _ => value.to_value(),
    }
}

/// A text leaf's value.
pub(crate) fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

/// Whether `selection` asks for the field `name` (under any key).
pub(crate) fn selects(selection: &SelectionSet, name: &str) -> bool {
    selection.items.iter().any(|item| match &item.node {
        Selection::Field(field) => field.node.name.node == name,
        _ => false,
    })
}

/// Loads an edge's rows only when `wanted`: empty when not wanted, `None` when the load
/// failed.
pub(crate) async fn load_if<K, V, E>(
    wanted: bool,
    load: impl Future<Output = Result<HashMap<K, V>, E>>,
) -> Option<HashMap<K, V>> {
    if wanted {
        load.await.ok()
    } else {
        Some(HashMap::new())
    }
}

/// What objects answered from their own row alone load: nothing, once per object.
pub(crate) fn nothing<T>(objects: &[T]) -> Option<Vec<()>> {
    Some(vec![(); objects.len()])
}

/// A [`Plain`] object as a field's type: the same GraphQL type, answered at once when
/// its selection allows.
#[derive(Clone)]
pub(crate) struct Immediate<T>(pub(crate) T);

impl<T: Plain> OutputType for Immediate<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let selection = &ctx.item.node;
        if answerable::<T>(selection)
            && let Ok(scope) = ctx.data::<Scope>()
            && let Some(loaded) = T::load(std::slice::from_ref(&self.0), scope, selection).await
            && let [loaded] = loaded.as_slice()
        {
            return Ok(object(&self.0, &Plan::of(selection), loaded));
        }
        self.0.resolve(ctx, field).await
    }
}

/// A list of GraphQL objects (a connection's `nodes`), answered at once as a whole when
/// its items are [`Immediate`] and their selection allows: each edge is loaded once for
/// the whole list, with no future per item. Every other list is async-graphql's own.
pub(crate) struct List<'a, N>(pub(crate) &'a [N]);

/// A list item: how a list of it is resolved (async-graphql's way unless overridden).
pub(crate) trait Item: OutputType + Sized {
    /// The value of `items` under `field`.
    fn resolve_all<'a>(
        items: &'a [Self],
        ctx: &'a ContextSelectionSet<'a>,
        field: &'a Positioned<Field>,
    ) -> impl Future<Output = ServerResult<Value>> + Send + 'a {
        resolve_list(ctx, field, items, Some(items.len()))
    }
}

impl<T: Plain + Clone> Item for Immediate<T> {
    async fn resolve_all<'a>(
        items: &'a [Self],
        ctx: &'a ContextSelectionSet<'a>,
        field: &'a Positioned<Field>,
    ) -> ServerResult<Value> {
        let selection = &ctx.item.node;
        if answerable::<T>(selection)
            && let Ok(scope) = ctx.data::<Scope>()
        {
            let objects: Vec<T> = items.iter().map(|item| item.0.clone()).collect();
            if let Some(loaded) = T::load(&objects, scope, selection).await
                && loaded.len() == objects.len()
            {
                let plan = Plan::of(selection);
                let values = objects.iter().zip(&loaded);
                return Ok(Value::List(
                    values
                        .map(|(item, loaded)| object(item, &plan, loaded))
                        .collect(),
                ));
            }
        }
        resolve_list(ctx, field, items, Some(items.len())).await
    }
}

impl<N: Item> OutputType for List<'_, N> {
    fn type_name() -> Cow<'static, str> {
        Vec::<N>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<N>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<N>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        N::resolve_all(self.0, ctx, field).await
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;

    use super::*;
    use crate::graphql::types::tenant::Tenant;

    /// The selection of `tenants { nodes { … } }` in `query`.
    fn tenant_selection(query: &str) -> SelectionSet {
        let document = parse_query(query).expect("parses");
        let DocumentOperations::Single(operation) = document.operations else {
            panic!("one anonymous operation");
        };
        let field_named = |selection: &SelectionSet, name: &str| {
            selection
                .items
                .iter()
                .find_map(|item| match &item.node {
                    Selection::Field(field) if field.node.name.node == name => {
                        Some(field.node.selection_set.node.clone())
                    }
                    _ => None,
                })
                .expect("selected")
        };
        let tenants = field_named(&operation.node.selection_set.node, "tenants");
        field_named(&tenants, "nodes")
    }

    #[test]
    fn the_tenant_board_is_answered_at_once() {
        let board = "{ tenants(first: 50) { nodes { name workspace { name } \
                     providerConnections { provider status } permissions { key status } } } }";
        assert!(answerable::<Tenant>(&tenant_selection(board)));
        let typed = "{ tenants { nodes { __typename id databaseId externalId status environment \
                     createdAt updatedAt workspace { id slug } permissions { lastCheckedAt } } } }";
        assert!(answerable::<Tenant>(&tenant_selection(typed)));
    }

    #[test]
    fn anything_else_takes_async_graphqls_path() {
        for nodes in [
            "... on Tenant { name }",
            "...Named",
            "name name: externalId",
            "health { level }",
            "runStats(window: LAST_1H) { total }",
            "metadata",
            "rbac { lastCheckedAt }",
            "workspace { name tenants { totalCount } }",
            "permissions { key details }",
            "permissions { tenant { name } }",
            "providerConnections { metadata }",
            "providerConnections { ... on ProviderConnection { provider } }",
            "name @deprecated",
        ] {
            let query = format!("{{ tenants {{ nodes {{ {nodes} }} }} }}");
            assert!(!answerable::<Tenant>(&tenant_selection(&query)), "{nodes}");
        }
    }
}
