//! sea-orm entities of Control Tower: one module per table of SPEC §2.
//!
//! The entities mirror the stored rows exactly. Enumerated columns stay `String` so that a
//! value written by another application (an outcome `skipped`, say) still loads; the service
//! maps such values to `UNKNOWN`. JSON columns use [`Document`], which reads malformed JSON
//! as null instead of failing the row.

pub mod audit_log;
pub mod json;
pub mod operation_run;
pub mod platform_api_token;
pub mod platform_session;
pub mod platform_user;
pub mod provider_connection;
pub mod tenant;
pub mod tenant_permission;
pub mod user;
pub mod workspace;
pub mod workspace_membership;

pub use json::Document;

/// Rows read by position: the columns of a `SELECT` of every column in the order the
/// model declares them (what `Entity::find()` writes), with any further columns after
/// them. sea-orm's derived reading finds every value's column by name, hashing the name
/// for every value of every row: a measured share of the service's time on lists of
/// tenants and their connections (issue #13). Each module's tests pin the order.
pub trait ReadByPosition: Sized {
    /// The model of `row`.
    fn read_by_position(row: &sea_orm::QueryResult) -> Result<Self, sea_orm::DbErr>;
}

/// Checks that `E::find()` selects `E`'s columns in the order `read` lists them, the
/// order its [`ReadByPosition`] reads them.
#[cfg(test)]
fn assert_read_order<E: sea_orm::EntityTrait>(read: &[&str]) {
    use sea_orm::IdenStatic;
    use sea_orm::Iterable;
    let columns: Vec<&str> = E::Column::iter().map(|column| column.as_str()).collect();
    assert_eq!(columns, read);
}
