//! The GraphQL schema: types, loaders, connections and the one schema builder.

mod coalesce;
pub mod connection;
pub mod enums;
pub mod guards;
pub mod ids;
pub mod inputs;
pub mod loaders;
pub mod query;
pub mod scope;
pub mod settle;
pub mod snapshots;
pub mod text;
pub mod types;

use async_graphql::{EmptySubscription, SDLExportOptions, Schema, SchemaBuilder};

use self::query::{Mutation, Query};

/// The schema type served by the server.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema, without data or limits: the server, the tests and `control-tower schema`
/// all start from here, so they cannot drift apart.
pub fn schema() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
}

/// The SDL of the schema, as committed in `schema.graphql`: types, fields and enum
/// values sorted, so that a diff shows exactly what changed for clients.
pub fn sdl() -> String {
    let options = SDLExportOptions::new().sorted_fields().sorted_enum_items();
    schema().finish().sdl_with_options(options)
}
