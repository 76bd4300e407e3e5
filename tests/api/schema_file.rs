//! `schema.graphql` is what `control-tower schema` prints, and every part of the schema
//! is described for the developers who read it in GraphiQL.

use serde_json::Value;

const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");

#[test]
fn schema_file_is_up_to_date() {
    let generated = control_tower::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_FILE, &generated).expect("schema.graphql is writable");
        return;
    }
    let committed = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `UPDATE_SCHEMA=1 cargo test --test api schema_file` \
         (or `cargo run -- schema > schema.graphql`) and commit the result"
    );
}

#[tokio::test]
async fn every_type_field_argument_and_enum_value_is_described() {
    let schema = control_tower::graphql::schema().finish();
    let response = schema.execute(DESCRIBED).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().expect("introspection is JSON");
    let mut missing = Vec::new();
    for kind in data["__schema"]["types"].as_array().expect("types") {
        let name = kind["name"].as_str().unwrap_or_default();
        if name.starts_with("__") || is_builtin_scalar(name) {
            continue;
        }
        if is_blank(&kind["description"]) {
            missing.push(format!("type {name}"));
        }
        for field in kind["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().unwrap_or_default();
            if is_blank(&field["description"]) {
                missing.push(format!("field {name}.{field_name}"));
            }
            for argument in field["args"].as_array().into_iter().flatten() {
                if is_blank(&argument["description"]) {
                    missing.push(format!(
                        "argument {name}.{field_name}({})",
                        argument["name"]
                    ));
                }
            }
        }
        for field in kind["inputFields"].as_array().into_iter().flatten() {
            if is_blank(&field["description"]) {
                missing.push(format!("input field {name}.{}", field["name"]));
            }
        }
        for value in kind["enumValues"].as_array().into_iter().flatten() {
            if is_blank(&value["description"]) {
                missing.push(format!("enum value {name}.{}", value["name"]));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "described nowhere:\n{}",
        missing.join("\n")
    );
}

fn is_blank(description: &Value) -> bool {
    description
        .as_str()
        .is_none_or(|text| text.trim().is_empty())
}

fn is_builtin_scalar(name: &str) -> bool {
    matches!(name, "String" | "Int" | "Float" | "Boolean" | "ID")
}

const DESCRIBED: &str = r#"
{
  __schema {
    types {
      name
      description
      fields(includeDeprecated: true) { name description args { name description } }
      inputFields { name description }
      enumValues(includeDeprecated: true) { name description }
    }
  }
}
"#;

/// The file says what the running server's introspection says: every type with its
/// kind, description and `@specifiedBy`; every field, argument, input field and enum
/// value with its type, default, description and deprecation, in the same order. What
/// GraphiQL, graphql-codegen and GraphQL Inspector read from the server is what a
/// frontend team reads in the file.
#[tokio::test]
async fn schema_file_says_what_live_introspection_says() {
    let app = crate::common::TestApp::spawn(crate::common::Backend::Sqlite).await;
    let response: Value = app
        .client()
        .post(app.url("/graphql"))
        .json(&serde_json::json!({"query": crate::clients::STANDARD_INTROSPECTION}))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a JSON answer");
    assert!(response.get("errors").is_none(), "{response:#}");
    let live = canonical::of_introspection(&response["data"]["__schema"]);
    let file = canonical::of_sdl(&std::fs::read_to_string(SCHEMA_FILE).expect("schema.graphql"));
    let missing: Vec<&String> = live.iter().filter(|line| !file.contains(line)).collect();
    let extra: Vec<&String> = file.iter().filter(|line| !live.contains(line)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "schema.graphql and introspection differ.\nonly in introspection:\n{}\nonly in the file:\n{}",
        missing
            .iter()
            .map(|line| line.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        extra
            .iter()
            .map(|line| line.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(live, file, "the same lines, in another order");
}

/// Both descriptions of a schema as the same lines: one per type, field, argument, input
/// field, enum value and directive, types by name and their parts in declared order.
mod canonical {
    use async_graphql::parser::types::{
        BaseType, ConstDirective, InputValueDefinition, Type, TypeKind, TypeSystemDefinition,
    };
    use async_graphql::{Positioned, Value as ConstValue};
    use serde_json::Value;

    /// The directives GraphQL defines, which a printed schema may leave out.
    const BUILT_IN: [&str; 5] = ["include", "skip", "deprecated", "specifiedBy", "oneOf"];

    fn text(description: Option<&str>) -> String {
        format!("{:?}", description.map(str::trim).unwrap_or_default())
    }

    /// A default value as a GraphQL literal, printed one way whatever its spelling.
    fn literal(source: &str) -> String {
        let document = async_graphql::parser::parse_query(format!(
            "query($v: Int = {source}) {{ __typename }}"
        ))
        .expect("a default value parses");
        let (_, operation) = document.operations.iter().next().expect("an operation");
        let default = operation.node.variable_definitions[0]
            .node
            .default_value
            .as_ref()
            .expect("a default");
        default.node.to_string()
    }

    fn of_type_ref(ty: &Value) -> String {
        match ty["kind"].as_str() {
            Some("NON_NULL") => format!("{}!", of_type_ref(&ty["ofType"])),
            Some("LIST") => format!("[{}]", of_type_ref(&ty["ofType"])),
            _ => ty["name"].as_str().unwrap_or_default().to_owned(),
        }
    }

    fn deprecation(value: &Value) -> String {
        if value["isDeprecated"].as_bool().unwrap_or(false) {
            format!(" deprecated={}", text(value["deprecationReason"].as_str()))
        } else {
            String::new()
        }
    }

    fn input_line(owner: &str, value: &Value) -> String {
        let default = value["defaultValue"]
            .as_str()
            .map(|source| format!(" = {}", literal(source)))
            .unwrap_or_default();
        format!(
            "{owner}.{}: {}{default} {}{}",
            value["name"].as_str().unwrap_or_default(),
            of_type_ref(&value["type"]),
            text(value["description"].as_str()),
            deprecation(value)
        )
    }

    fn names(list: &Value) -> String {
        let mut names: Vec<&str> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|ty| ty["name"].as_str())
            .collect();
        names.sort_unstable();
        names.join(",")
    }

    pub fn of_introspection(schema: &Value) -> Vec<String> {
        let mut lines = Vec::new();
        let mut types: Vec<&Value> = schema["types"]
            .as_array()
            .expect("types")
            .iter()
            .filter(|ty| {
                let name = ty["name"].as_str().unwrap_or_default();
                !name.starts_with("__")
                    && !matches!(name, "String" | "Int" | "Float" | "Boolean" | "ID")
            })
            .collect();
        types.sort_by_key(|ty| ty["name"].as_str().unwrap_or_default().to_owned());
        for ty in types {
            let name = ty["name"].as_str().unwrap_or_default();
            let specified = ty["specifiedByURL"]
                .as_str()
                .map(|url| format!(" specifiedBy={url}"))
                .unwrap_or_default();
            lines.push(format!(
                "type {name} {} implements=[{}] members=[{}] {}{specified}",
                ty["kind"].as_str().unwrap_or_default(),
                if ty["kind"] == "UNION" {
                    String::new()
                } else {
                    names(&ty["interfaces"])
                },
                if ty["kind"] == "UNION" {
                    names(&ty["possibleTypes"])
                } else {
                    String::new()
                },
                text(ty["description"].as_str()),
            ));
            for field in ty["fields"].as_array().into_iter().flatten() {
                let field_name = field["name"].as_str().unwrap_or_default();
                lines.push(format!(
                    "field {name}.{field_name}: {} {}{}",
                    of_type_ref(&field["type"]),
                    text(field["description"].as_str()),
                    deprecation(field)
                ));
                for argument in field["args"].as_array().into_iter().flatten() {
                    lines.push(format!(
                        "argument {}",
                        input_line(&format!("{name}.{field_name}"), argument)
                    ));
                }
            }
            for input in ty["inputFields"].as_array().into_iter().flatten() {
                lines.push(format!("input {}", input_line(name, input)));
            }
            for value in ty["enumValues"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "value {name}.{} {}{}",
                    value["name"].as_str().unwrap_or_default(),
                    text(value["description"].as_str()),
                    deprecation(value)
                ));
            }
        }
        for directive in schema["directives"].as_array().into_iter().flatten() {
            let name = directive["name"].as_str().unwrap_or_default();
            if BUILT_IN.contains(&name) {
                continue;
            }
            lines.push(format!(
                "directive @{name} {}",
                text(directive["description"].as_str())
            ));
            for argument in directive["args"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "argument {}",
                    input_line(&format!("@{name}"), argument)
                ));
            }
        }
        lines
    }

    fn directive_argument<'a>(
        directives: &'a [Positioned<ConstDirective>],
        name: &str,
        argument: &str,
    ) -> Option<&'a ConstValue> {
        directives
            .iter()
            .find(|directive| directive.node.name.node == name)
            .and_then(|directive| directive.node.get_argument(argument))
            .map(|value| &value.node)
    }

    fn sdl_deprecation(directives: &[Positioned<ConstDirective>]) -> String {
        if !directives
            .iter()
            .any(|directive| directive.node.name.node == "deprecated")
        {
            return String::new();
        }
        let reason = match directive_argument(directives, "deprecated", "reason") {
            Some(ConstValue::String(reason)) => Some(reason.as_str()),
            _ => Some("No longer supported"),
        };
        format!(" deprecated={}", text(reason))
    }

    fn type_string(ty: &Type) -> String {
        let base = match &ty.base {
            BaseType::Named(name) => name.to_string(),
            BaseType::List(item) => format!("[{}]", type_string(item)),
        };
        if ty.nullable {
            base
        } else {
            format!("{base}!")
        }
    }

    fn sdl_input_line(owner: &str, value: &InputValueDefinition) -> String {
        let default = value
            .default_value
            .as_ref()
            .map(|default| format!(" = {}", default.node))
            .unwrap_or_default();
        format!(
            "{owner}.{}: {}{default} {}{}",
            value.name.node,
            type_string(&value.ty.node),
            text(value.description.as_ref().map(|text| text.node.as_str())),
            sdl_deprecation(&value.directives)
        )
    }

    fn sorted(names: impl Iterator<Item = String>) -> String {
        let mut names: Vec<String> = names.collect();
        names.sort_unstable();
        names.join(",")
    }

    pub fn of_sdl(sdl: &str) -> Vec<String> {
        let document = async_graphql::parser::parse_schema(sdl).expect("schema.graphql parses");
        let mut types = Vec::new();
        let mut directives = Vec::new();
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Type(ty) => types.push(ty.node),
                TypeSystemDefinition::Directive(directive) => directives.push(directive.node),
                TypeSystemDefinition::Schema(_) => {}
            }
        }
        types.sort_by_key(|ty| ty.name.node.to_string());
        let mut lines = Vec::new();
        for ty in types {
            let name = ty.name.node.to_string();
            let description = text(ty.description.as_ref().map(|text| text.node.as_str()));
            let specified = match directive_argument(&ty.directives, "specifiedBy", "url") {
                Some(ConstValue::String(url)) => format!(" specifiedBy={url}"),
                _ => String::new(),
            };
            let (kind, implements, members) = match &ty.kind {
                TypeKind::Scalar => ("SCALAR", String::new(), String::new()),
                TypeKind::Object(object) => (
                    "OBJECT",
                    sorted(object.implements.iter().map(|name| name.node.to_string())),
                    String::new(),
                ),
                TypeKind::Interface(interface) => (
                    "INTERFACE",
                    sorted(
                        interface
                            .implements
                            .iter()
                            .map(|name| name.node.to_string()),
                    ),
                    String::new(),
                ),
                TypeKind::Union(union) => (
                    "UNION",
                    String::new(),
                    sorted(union.members.iter().map(|name| name.node.to_string())),
                ),
                TypeKind::Enum(_) => ("ENUM", String::new(), String::new()),
                TypeKind::InputObject(_) => ("INPUT_OBJECT", String::new(), String::new()),
            };
            lines.push(format!("type {name} {kind} implements=[{implements}] members=[{members}] {description}{specified}"));
            let fields = match &ty.kind {
                TypeKind::Object(object) => object.fields.as_slice(),
                TypeKind::Interface(interface) => interface.fields.as_slice(),
                _ => &[],
            };
            for field in fields {
                let field = &field.node;
                lines.push(format!(
                    "field {name}.{}: {} {}{}",
                    field.name.node,
                    type_string(&field.ty.node),
                    text(field.description.as_ref().map(|text| text.node.as_str())),
                    sdl_deprecation(&field.directives)
                ));
                for argument in &field.arguments {
                    lines.push(format!(
                        "argument {}",
                        sdl_input_line(&format!("{name}.{}", field.name.node), &argument.node)
                    ));
                }
            }
            match &ty.kind {
                TypeKind::InputObject(input) => {
                    for field in &input.fields {
                        lines.push(format!("input {}", sdl_input_line(&name, &field.node)));
                    }
                }
                TypeKind::Enum(values) => {
                    for value in &values.values {
                        let value = &value.node;
                        lines.push(format!(
                            "value {name}.{} {}{}",
                            value.value.node,
                            text(value.description.as_ref().map(|text| text.node.as_str())),
                            sdl_deprecation(&value.directives)
                        ));
                    }
                }
                _ => {}
            }
        }
        for directive in directives {
            let name = directive.name.node.to_string();
            if BUILT_IN.contains(&name.as_str()) {
                continue;
            }
            lines.push(format!(
                "directive @{name} {}",
                text(
                    directive
                        .description
                        .as_ref()
                        .map(|text| text.node.as_str())
                )
            ));
            for argument in &directive.arguments {
                lines.push(format!(
                    "argument {}",
                    sdl_input_line(&format!("@{name}"), &argument.node)
                ));
            }
        }
        lines
    }
}
