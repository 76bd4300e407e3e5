//! The GraphQL schema: types, loaders, connections and the one schema builder.

pub mod authenticated;
mod coalesce;
pub(crate) mod connection;
pub(crate) mod enums;
pub(crate) mod guards;
pub mod ids;
pub(crate) mod immediate;
pub(crate) mod inputs;
pub(crate) mod loaders;
pub mod query;
pub(crate) mod scope;
pub(crate) mod settle;
pub(crate) mod snapshots;
pub(crate) mod text;
pub mod types;

use async_graphql::{Json, SDLExportOptions, Schema, SchemaBuilder};
use chrono::{DateTime, Utc};

use self::authenticated::Authenticated;
use self::query::{Mutation, Query, Subscription};

/// The schema type served by the server: its query and mutation roots authenticate the
/// request before their first field.
pub(crate) type AppSchema = Schema<Authenticated<Query>, Authenticated<Mutation>, Subscription>;

/// What GraphiQL and generated clients show for the `DateTime` scalar (async-graphql's
/// own description names its Rust implementation).
const DATE_TIME: &str = "An instant, as an RFC 3339 string in UTC: \
`2026-11-27T15:42:47.123456+00:00`. Fractional seconds appear when not zero, in groups of \
three digits, to the microsecond.";
/// The same for the `JSON` scalar.
const JSON: &str = "Any JSON value (object, array, string, number, boolean or null), \
passed through as it is stored; values under secret-looking keys read `[REDACTED]`.";

/// The schema, without data or limits: the server, the tests and `control-tower schema`
/// all start from here, so they cannot drift apart.
pub fn schema() -> SchemaBuilder<Authenticated<Query>, Authenticated<Mutation>, Subscription> {
    Schema::build(
        Authenticated::default(),
        Authenticated::default(),
        Subscription::default(),
    )
    .override_output_type_description::<DateTime<Utc>>(DATE_TIME)
    .override_output_type_description::<Json<serde_json::Value>>(JSON)
}

/// The SDL of the schema, as committed in `schema.graphql`: what introspection says, in
/// the same order (types by name; fields, arguments and enum values as declared, so
/// `HealthLevel` reads from best to worst), with `@specifiedBy` on the scalars that have
/// a specification.
pub fn sdl() -> String {
    let options = SDLExportOptions::new().include_specified_by();
    without_hidden(&schema().finish().sdl_with_options(options))
}

/// Root fields that introspection does not show (`visible = false`), each the
/// implementation of a subscription, not a field for clients: async-graphql's SDL
/// prints them all the same.
const HIDDEN_FIELDS: [&str; 1] = ["auditLogTailPage"];

/// `sdl` without the [`HIDDEN_FIELDS`] and their descriptions.
fn without_hidden(sdl: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut lines = sdl.lines().peekable();
    while let Some(line) = lines.next() {
        let hidden = HIDDEN_FIELDS.iter().any(|field| {
            line.strip_prefix('\t')
                .and_then(|rest| rest.strip_prefix(field))
                .is_some_and(|rest| rest.starts_with('(') || rest.starts_with(':'))
        });
        if !hidden {
            kept.push(line);
            continue;
        }
        // Its description is the block of lines between the two `"""` just above.
        if kept.last() == Some(&"\t\"\"\"") {
            kept.pop();
            while let Some(line) = kept.pop() {
                if line == "\t\"\"\"" {
                    break;
                }
            }
        }
        // An argument list over several lines ends with the line that closes it.
        if line.ends_with('(') {
            for rest in lines.by_ref() {
                if rest.starts_with("\t)") {
                    break;
                }
            }
        }
    }
    let mut text = kept.join("\n");
    text.push('\n');
    text
}
