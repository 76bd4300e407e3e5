//! What a document says of the schema's types, checked before async-graphql sees it.
//!
//! - Enum values written as strings. GraphQL spells an enum value as a bare name
//!   (`window: LAST_1H`); only variables, which arrive as JSON, carry them as strings.
//!   async-graphql 7 accepts a quoted `"LAST_1H"` in the document too.
//! - Variables of a type the schema does not have. async-graphql 7.2.1 panics on
//!   `query($v: [Nope] = [1])` while checking the default value.
//!
//! Both need the types of arguments and input fields, which [`TypeIndex`] reads from the
//! schema's own SDL.

use std::collections::{HashMap, HashSet};

use async_graphql::Name;
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, InlineFragment, OperationType, Selection, SelectionSet, Type,
    TypeKind, TypeSystemDefinition,
};
use async_graphql_value::Value;

use crate::error::AppError;

/// The argument and input types of a schema, by name.
#[derive(Debug)]
pub(crate) struct TypeIndex {
    /// The root types of queries, mutations and subscriptions, in that order.
    roots: [String; 3],
    /// Every type a variable may have: scalars, enums and input objects.
    inputs_and_leaves: HashSet<String>,
    enums: HashSet<String>,
    inputs: HashMap<String, HashMap<String, Type>>,
    fields: HashMap<String, HashMap<String, FieldTypes>>,
}

#[derive(Debug)]
struct FieldTypes {
    arguments: HashMap<String, Type>,
    /// The default values the schema gives arguments.
    defaults: HashMap<String, async_graphql::Value>,
    returns: Type,
}

impl TypeIndex {
    /// An index that knows only the built-in scalars.
    fn builtin() -> Self {
        Self {
            roots: [
                "Query".to_owned(),
                "Mutation".to_owned(),
                "Subscription".to_owned(),
            ],
            inputs_and_leaves: ["String", "Int", "Float", "Boolean", "ID"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            enums: HashSet::new(),
            inputs: HashMap::new(),
            fields: HashMap::new(),
        }
    }

    /// The type `field` of `parent` returns, if the schema has it (introspection's own
    /// types are not in the SDL).
    pub(crate) fn field_type(&self, parent: &str, field: &str) -> Option<&Type> {
        Some(&self.fields.get(parent)?.get(field)?.returns)
    }

    /// Whether `field` of `parent` takes an argument `argument`.
    pub(crate) fn takes(&self, parent: &str, field: &str, argument: &str) -> bool {
        self.fields
            .get(parent)
            .and_then(|fields| fields.get(field))
            .is_some_and(|field| field.arguments.contains_key(argument))
    }

    /// The default value the schema gives `argument` of `field` of `parent`.
    pub(crate) fn default_of(
        &self,
        parent: &str,
        field: &str,
        argument: &str,
    ) -> Option<&async_graphql::Value> {
        self.fields.get(parent)?.get(field)?.defaults.get(argument)
    }

    /// The root type of operations of type `ty`.
    pub(crate) fn root(&self, ty: OperationType) -> &str {
        match ty {
            OperationType::Query => &self.roots[0],
            OperationType::Mutation => &self.roots[1],
            OperationType::Subscription => &self.roots[2],
        }
    }

    /// Reads the types of the schema printed as `sdl`.
    pub(crate) fn of_sdl(sdl: &str) -> Result<Self, async_graphql::parser::Error> {
        let document = async_graphql::parser::parse_schema(sdl)?;
        let mut index = Self::builtin();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                if let TypeSystemDefinition::Schema(schema) = definition {
                    let schema = schema.node;
                    let named = [schema.query, schema.mutation, schema.subscription];
                    for (root, name) in index.roots.iter_mut().zip(named) {
                        if let Some(name) = name {
                            *root = name.node.to_string();
                        }
                    }
                }
                continue;
            };
            let definition = definition.node;
            let name = definition.name.node.to_string();
            match definition.kind {
                TypeKind::Enum(_) => {
                    index.inputs_and_leaves.insert(name.clone());
                    index.enums.insert(name);
                }
                TypeKind::Scalar => {
                    index.inputs_and_leaves.insert(name);
                }
                TypeKind::InputObject(input) => {
                    index.inputs_and_leaves.insert(name.clone());
                    let fields = input
                        .fields
                        .into_iter()
                        .map(|field| (field.node.name.node.to_string(), field.node.ty.node))
                        .collect();
                    index.inputs.insert(name, fields);
                }
                TypeKind::Object(object) => {
                    index.fields.insert(name, field_types(object.fields));
                }
                TypeKind::Interface(interface) => {
                    index.fields.insert(name, field_types(interface.fields));
                }
                TypeKind::Union(_) => {}
            }
        }
        Ok(index)
    }

    /// Refuses variables of types the schema lacks, and enum values written as strings
    /// anywhere in `document`: arguments, input object fields, list items and variable
    /// defaults.
    pub(crate) fn check(&self, document: &ExecutableDocument) -> Result<(), AppError> {
        for (_, operation) in document.operations.iter() {
            let operation = &operation.node;
            for variable in &operation.variable_definitions {
                let variable = &variable.node;
                let ty = named(&variable.var_type.node);
                // Output types are the validator's to refuse; only unknown names crash it.
                if !self.inputs_and_leaves.contains(ty.as_str())
                    && !self.fields.contains_key(ty.as_str())
                {
                    return Err(AppError::bad_input(format!(
                        "the variable `${}` has the type `{ty}`, which the schema does not have",
                        variable.name.node
                    )));
                }
                if let Some(default) = &variable.default_value {
                    let value = default.node.clone().into_value();
                    let place = format!("the default of `${}`", variable.name.node);
                    self.value(&value, &variable.var_type.node, &place)?;
                }
            }
            self.selection_set(&operation.selection_set.node, self.root(operation.ty))?;
        }
        for fragment in document.fragments.values() {
            let fragment = &fragment.node;
            self.selection_set(
                &fragment.selection_set.node,
                fragment.type_condition.node.on.node.as_str(),
            )?;
        }
        Ok(())
    }

    fn selection_set(&self, set: &SelectionSet, parent: &str) -> Result<(), AppError> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    // An unknown field is the validator's to report.
                    let Some(types) = self
                        .fields
                        .get(parent)
                        .and_then(|fields| fields.get(field.name.node.as_str()))
                    else {
                        continue;
                    };
                    for (argument, value) in &field.arguments {
                        if let Some(ty) = types.arguments.get(argument.node.as_str()) {
                            let place = format!("`{}` of `{}`", argument.node, field.name.node);
                            self.value(&value.node, ty, &place)?;
                        }
                    }
                    self.selection_set(&field.selection_set.node, named(&types.returns))?;
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    self.selection_set(&inline.selection_set.node, inline_on(inline, parent))?;
                }
                // The fragment is checked once, as a definition.
                Selection::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }

    fn value(&self, value: &Value, ty: &Type, place: &str) -> Result<(), AppError> {
        match (&ty.base, value) {
            (BaseType::List(item), Value::List(items)) => {
                for value in items {
                    self.value(value, item, place)?;
                }
                Ok(())
            }
            // A single value where a list is expected is a list of one (input coercion).
            (BaseType::List(item), _) => self.value(value, item, place),
            (BaseType::Named(name), Value::String(text)) if self.enums.contains(name.as_str()) => {
                Err(AppError::bad_input(format!(
                    "{place} is a {name} value: write it without quotes, as {text} rather than \"{text}\""
                )))
            }
            (BaseType::Named(name), Value::Object(fields)) => {
                let Some(input) = self.inputs.get(name.as_str()) else {
                    return Ok(());
                };
                for (key, value) in fields {
                    if let Some(ty) = input.get(key.as_str()) {
                        self.value(value, ty, &format!("{place}.{key}"))?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn field_types(
    fields: Vec<async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>>,
) -> HashMap<String, FieldTypes> {
    fields
        .into_iter()
        .map(|field| {
            let field = field.node;
            let defaults = field
                .arguments
                .iter()
                .filter_map(|argument| {
                    let default = argument.node.default_value.as_ref()?;
                    Some((argument.node.name.node.to_string(), default.node.clone()))
                })
                .collect();
            let arguments = field
                .arguments
                .into_iter()
                .map(|argument| (argument.node.name.node.to_string(), argument.node.ty.node))
                .collect();
            let returns = field.ty.node;
            (
                field.name.node.to_string(),
                FieldTypes {
                    arguments,
                    defaults,
                    returns,
                },
            )
        })
        .collect()
}

/// The type an inline fragment's selection is on: its type condition's, else its
/// parent's.
pub(crate) fn inline_on<'a>(inline: &'a InlineFragment, parent: &'a str) -> &'a str {
    inline
        .type_condition
        .as_ref()
        .map_or(parent, |condition| condition.node.on.node.as_str())
}

/// The named type inside list and non-null wrappers.
pub(crate) fn named(ty: &Type) -> &Name {
    match &ty.base {
        BaseType::Named(name) => name,
        BaseType::List(item) => named(item),
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn index() -> TypeIndex {
        TypeIndex::of_sdl(&crate::graphql::sdl()).unwrap()
    }

    fn check(query: &str) -> Result<(), String> {
        index()
            .check(&parse_query(query).unwrap())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_schema_sdl_is_indexed() {
        let index = index();
        assert!(index.enums.contains("TimeWindow"));
        assert!(index.inputs.contains_key("TenantFilter"));
        assert_eq!(
            index.field_type("Query", "tenants").unwrap().to_string(),
            "TenantConnection!"
        );
    }

    #[test]
    fn a_quoted_enum_argument_is_refused() {
        let error = check(r#"{ controlTower(window: "LAST_1H") { stuckTotal } }"#).unwrap_err();
        assert_eq!(
            error,
            "`window` of `controlTower` is a TimeWindow value: write it without quotes, as LAST_1H rather than \"LAST_1H\""
        );
        assert!(check("{ controlTower(window: LAST_1H) { stuckTotal } }").is_ok());
    }

    #[test]
    fn quoted_enums_inside_lists_objects_and_defaults_are_refused() {
        assert!(check(r#"{ tenants(filter: {statuses: ["ACTIVE"]}) { totalCount } }"#).is_err());
        assert!(check(r#"{ tenants(filter: {statuses: "ACTIVE"}) { totalCount } }"#).is_err());
        assert!(
            check(r#"{ tenants(orderBy: {field: "NAME", direction: ASC}) { totalCount } }"#)
                .is_err()
        );
        assert!(
            check(
                r#"query($w: TimeWindow = "LAST_7D") { controlTower(window: $w) { stuckTotal } }"#
            )
            .is_err()
        );
        assert!(
            check(r#"{ workspaces { nodes { health(window: "LAST_7D") { level } } } }"#).is_err()
        );
        assert!(
            check(r#"{ ...F } fragment F on Query { failures(window: "LAST_1H") { totalCount } }"#)
                .is_err()
        );
    }

    #[test]
    fn a_variable_of_a_type_the_schema_lacks_is_refused() {
        assert_eq!(
            check("query($v: [Nope] = [1]) { __typename }").unwrap_err(),
            "the variable `$v` has the type `Nope`, which the schema does not have"
        );
        assert!(check("query($a: [ID!]!, $b: DateTime, $c: TenantFilter, $d: TimeWindow, $e: Boolean) { __typename }").is_ok());
        assert!(
            check("query($v: Tenant) { __typename }").is_ok(),
            "the validator refuses it"
        );
    }

    #[test]
    fn strings_where_strings_belong_and_variables_pass() {
        assert!(check(r#"{ tenants(filter: {search: "ACTIVE"}) { totalCount } }"#).is_ok());
        assert!(
            check(r#"query($w: TimeWindow) { controlTower(window: $w) { stuckTotal } }"#).is_ok()
        );
        assert!(check(r#"{ nosuch(window: "LAST_1H") { x } }"#).is_ok());
    }
}
