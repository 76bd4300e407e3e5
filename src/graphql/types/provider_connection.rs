//! `ProviderConnection`.

use std::sync::Arc;

use async_graphql::parser::types::SelectionSet;
use async_graphql::{Context, ID, Json, Object, Value as GraphQLValue};
use chrono::{DateTime, Utc};
use entity::provider_connection;
use serde_json::Value;

use super::health::{HealthBadge, connection_facts};
use super::tenant::Tenant;
use crate::domain::{health, status};
use crate::error::AppResult;
use crate::graphql::enums::{ConnectionHealth, ConnectionStatus};
use crate::graphql::guards::SENSITIVE;
use crate::graphql::ids::NodeKind;
use crate::graphql::immediate::{Plain, Planned, enum_leaf, leaf, nothing, text};
use crate::graphql::scope::Scope;

#[derive(Clone)]
pub(crate) struct ProviderConnection {
    pub(crate) model: Arc<provider_connection::Model>,
}

super::row_object!(ProviderConnection, provider_connection);

impl ProviderConnection {
    /// The granted scopes that are strings.
    fn scopes(&self) -> Vec<String> {
        match self
            .model
            .scopes_granted
            .as_ref()
            .map(|scopes| scopes.value())
        {
            Some(Value::Array(scopes)) => scopes
                .iter()
                .filter_map(|scope| scope.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A tenant's connection to an identity or cloud provider, through which the platform
/// operates in the tenant.
#[Object]
impl ProviderConnection {
    /// The global id, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::ProviderConnection.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// The provider, e.g. `microsoft`.
    async fn provider(&self) -> &str {
        &self.model.provider
    }

    /// Whether this is the tenant's default connection for its provider.
    async fn is_default(&self) -> bool {
        self.model.is_default
    }

    /// The state of the connection.
    async fn status(&self) -> ConnectionStatus {
        status::ConnectionStatus::from_stored(&self.model.status).into()
    }

    /// The result of the last health check.
    async fn health_status(&self) -> ConnectionHealth {
        status::ConnectionHealth::from_stored(&self.model.health_status).into()
    }

    /// The scopes the provider granted. Entries that are not strings are left out.
    async fn scopes_granted(&self) -> Vec<String> {
        self.scopes()
    }

    /// When the connection's health was last checked; null if never.
    async fn last_health_check_at(&self) -> Option<DateTime<Utc>> {
        self.model.last_health_check_at
    }

    /// Free-form metadata, redacted: values under secret-looking keys read `[REDACTED]`.
    /// Needs `sensitive.view` (or break-glass).
    #[graphql(guard = "SENSITIVE")]
    async fn metadata(&self) -> Option<Json<Value>> {
        super::shown(self.model.metadata.as_ref())
    }

    /// The connection's own health badge: one `PROVIDER_CONNECTION` signal. A disabled
    /// connection is `UNKNOWN` (not monitored).
    async fn health(&self, ctx: &Context<'_>) -> AppResult<HealthBadge> {
        let criteria = Scope::of(ctx)?.criteria();
        let badge = health::connection_badge(
            &connection_facts(&self.model),
            criteria.now,
            criteria.health,
        );
        Ok(badge.into())
    }

    /// The tenant the connection belongs to.
    async fn tenant(&self, ctx: &Context<'_>) -> AppResult<Tenant> {
        let scope = Scope::of(ctx)?;
        let row = scope
            .loaders
            .tenants()
            .load_one(self.model.tenant_id)
            .await?;
        super::existing(row, || format!("tenant {}", self.model.tenant_id)).map(Tenant::from)
    }

    /// When the connection was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When the connection was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

impl Plain for ProviderConnection {
    type Loaded = ();
    const LEAVES: &'static [&'static str] = &[
        "id",
        "databaseId",
        "provider",
        "isDefault",
        "status",
        "healthStatus",
        "scopesGranted",
        "lastHealthCheckAt",
        "createdAt",
        "updatedAt",
    ];

    async fn load(objects: &[Self], _: &Scope, _: &SelectionSet) -> Option<Vec<()>> {
        nothing(objects)
    }

    fn value(&self, field: &Planned<'_>, (): &()) -> GraphQLValue {
        let model = &self.model;
        match field.name() {
            "id" => leaf(NodeKind::ProviderConnection.id(model.id)),
            "databaseId" => leaf(model.id),
            "provider" => text(&model.provider),
            "isDefault" => leaf(model.is_default),
            "status" => enum_leaf!(
                ConnectionStatus,
                status::ConnectionStatus::from_stored(&model.status).into()
            ),
            "healthStatus" => enum_leaf!(
                ConnectionHealth,
                status::ConnectionHealth::from_stored(&model.health_status).into()
            ),
            "scopesGranted" => leaf(self.scopes()),
            "lastHealthCheckAt" => leaf(model.last_health_check_at),
            "createdAt" => leaf(model.created_at),
            "updatedAt" => leaf(model.updated_at),
            _ => GraphQLValue::Null,
        }
    }
}
