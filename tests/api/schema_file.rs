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
    let response = schema.execute(INTROSPECTION).await;
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

const INTROSPECTION: &str = r#"
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
