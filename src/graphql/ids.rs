//! Global ids: an opaque `ID` that names the type and the database id of an object.
//!
//! The encoding (base64url of `Type:id`) is not part of the contract: clients must treat
//! ids as opaque strings and use `databaseId` when they need the number.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};

/// Every type that can be fetched with `node(id:)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Workspace,
    WorkspaceMembership,
    User,
    Tenant,
    ProviderConnection,
    TenantPermission,
    OperationRun,
    AuditLog,
    Operator,
}

impl NodeKind {
    const ALL: [NodeKind; 9] = [
        Self::Workspace,
        Self::WorkspaceMembership,
        Self::User,
        Self::Tenant,
        Self::ProviderConnection,
        Self::TenantPermission,
        Self::OperationRun,
        Self::AuditLog,
        Self::Operator,
    ];

    /// The GraphQL type name.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Workspace => "Workspace",
            Self::WorkspaceMembership => "WorkspaceMembership",
            Self::User => "User",
            Self::Tenant => "Tenant",
            Self::ProviderConnection => "ProviderConnection",
            Self::TenantPermission => "TenantPermission",
            Self::OperationRun => "OperationRun",
            Self::AuditLog => "AuditLog",
            Self::Operator => "Operator",
        }
    }

    /// The global id of the object of this kind with `database_id`.
    pub fn id(self, database_id: i64) -> ID {
        ID(URL_SAFE_NO_PAD.encode(format!("{}:{database_id}", self.name())))
    }
}

/// Reads a global id into its kind and database id.
pub(crate) fn decode(id: &ID, argument: &str) -> AppResult<(NodeKind, i64)> {
    let invalid = || AppError::bad_input(format!("`{argument}` is not a valid id: {:?}", id.0));
    let bytes = URL_SAFE_NO_PAD
        .decode(id.0.as_bytes())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (name, number) = text.split_once(':').ok_or_else(invalid)?;
    let kind = NodeKind::ALL
        .into_iter()
        .find(|kind| kind.name() == name)
        .ok_or_else(invalid)?;
    let database_id = number
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0 && number == id.to_string())
        .ok_or_else(invalid)?;
    Ok((kind, database_id))
}

/// Reads a global id that must name an object of `kind`.
pub(crate) fn decode_as(kind: NodeKind, id: &ID, argument: &str) -> AppResult<i64> {
    match decode(id, argument)? {
        (found, database_id) if found == kind => Ok(database_id),
        (found, _) => Err(AppError::bad_input(format!(
            "`{argument}` must be the id of a {}, not of a {}",
            kind.name(),
            found.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips() {
        let id = NodeKind::Tenant.id(42);
        assert_eq!(decode(&id, "id").unwrap(), (NodeKind::Tenant, 42));
        assert_eq!(decode_as(NodeKind::Tenant, &id, "id").unwrap(), 42);
    }

    #[test]
    fn an_id_of_another_type_is_refused_by_name() {
        let error =
            decode_as(NodeKind::Workspace, &NodeKind::Tenant.id(1), "workspaceId").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`workspaceId` must be the id of a Workspace, not of a Tenant"
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        let encode = |text: &str| ID(URL_SAFE_NO_PAD.encode(text));
        for id in [
            ID("not base64!".into()),
            encode("Tenant"),
            encode("Tenant:abc"),
            encode("Tenant:-1"),
            encode("Tenant:0"),
            encode("Tenant:007"),
            encode("Tenant:99999999999999999999"),
            encode("Spaceship:1"),
        ] {
            let error = decode(&id, "id").unwrap_err();
            assert!(matches!(error, AppError::BadUserInput(_)), "{id:?}");
        }
    }
}
