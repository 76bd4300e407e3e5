//! Every table, foreign key, unique constraint and index of SPEC §2.
//!
//! Timestamps are `TIMESTAMPTZ` on PostgreSQL and RFC 3339 text on SQLite, and carry no
//! database default: SQLite's `CURRENT_TIMESTAMP` writes another format, and the
//! service writes every timestamp itself. Deleting a tenant removes its connections and
//! permissions and detaches its runs; workspaces with tenants or runs cannot be deleted.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000001_create_tables"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Name,
    Slug,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Name,
    Email,
}

#[derive(DeriveIden)]
enum WorkspaceMemberships {
    Table,
    WorkspaceId,
    UserId,
    Role,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ExternalId,
    Name,
    WorkspaceId,
    Status,
    Environment,
    RbacLastCheckedAt,
    RbacLastSetupAt,
    RbacCanaryResults,
    RbacLastWarnings,
    Metadata,
}

#[derive(DeriveIden)]
enum ProviderConnections {
    Table,
    TenantId,
    Provider,
    IsDefault,
    Status,
    HealthStatus,
    ScopesGranted,
    LastHealthCheckAt,
    Metadata,
}

#[derive(DeriveIden)]
enum TenantPermissions {
    Table,
    TenantId,
    Key,
    Status,
    Details,
    LastCheckedAt,
}

#[derive(DeriveIden)]
enum OperationRuns {
    Table,
    WorkspaceId,
    TenantId,
    UserId,
    InitiatorName,
    Type,
    Status,
    Outcome,
    SummaryCounts,
    FailureSummary,
    Context,
    StartedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    WorkspaceId,
    TenantId,
    ActorId,
    ActorType,
    ActorName,
    ActorEmail,
    Action,
    Status,
    Metadata,
    RecordedAt,
}

#[derive(DeriveIden)]
enum PlatformUsers {
    Table,
    Name,
    Email,
    PasswordHash,
    Capabilities,
    IsActive,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum PlatformSessions {
    Table,
    PlatformUserId,
    TokenHash,
    ExpiresAt,
    LastSeenAt,
    RevokedAt,
    BreakGlassStartedAt,
    BreakGlassExpiresAt,
    BreakGlassReason,
    BreakGlassExpiryRecorded,
}

#[derive(DeriveIden)]
enum Timestamps {
    CreatedAt,
    UpdatedAt,
}

fn id() -> ColumnDef {
    ColumnDef::new("id")
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .take()
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().not_null().take()
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().take()
}

fn reference(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().take()
}

fn reference_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().take()
}

fn timestamp(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

fn timestamp_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .take()
}

fn json_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).json_binary().null().take()
}

fn flag(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(false)
        .take()
}

/// A table with `id` first and `created_at`, `updated_at` last.
fn table(name: impl IntoIden + 'static, columns: Vec<ColumnDef>) -> TableCreateStatement {
    let mut table = Table::create();
    table.table(name).col(id());
    for mut column in columns {
        table.col(&mut column);
    }
    table
        .col(timestamp(Timestamps::CreatedAt))
        .col(timestamp(Timestamps::UpdatedAt))
        .take()
}

fn foreign_key(
    from_table: impl IntoIden + 'static,
    from_column: impl IntoIden + 'static,
    to_table: impl IntoIden + 'static,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let from_table = from_table.into_iden();
    let from_column = from_column.into_iden();
    let to_table = to_table.into_iden();
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_column}"))
        .from(from_table, from_column)
        .to(to_table, "id")
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}

fn index(
    table: impl IntoIden + 'static,
    columns: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let table = table.into_iden();
    let prefix = if unique { "uq" } else { "idx" };
    let mut index = Index::create();
    index
        .name(format!("{prefix}_{table}_{}", columns.join("_")))
        .table(table);
    for column in columns {
        index.col(*column);
    }
    if unique {
        index.unique();
    }
    index.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};

        let tables = [
            table(
                Workspaces::Table,
                vec![
                    text(Workspaces::Name),
                    text(Workspaces::Slug).unique_key().take(),
                ],
            ),
            table(
                Users::Table,
                vec![text(Users::Name), text(Users::Email).unique_key().take()],
            ),
            table(
                WorkspaceMemberships::Table,
                vec![
                    reference(WorkspaceMemberships::WorkspaceId),
                    reference(WorkspaceMemberships::UserId),
                    text(WorkspaceMemberships::Role),
                ],
            )
            .foreign_key(&mut foreign_key(
                WorkspaceMemberships::Table,
                WorkspaceMemberships::WorkspaceId,
                Workspaces::Table,
                Cascade,
            ))
            .foreign_key(&mut foreign_key(
                WorkspaceMemberships::Table,
                WorkspaceMemberships::UserId,
                Users::Table,
                Cascade,
            ))
            .take(),
            table(
                Tenants::Table,
                vec![
                    text(Tenants::ExternalId).unique_key().take(),
                    text(Tenants::Name),
                    reference(Tenants::WorkspaceId),
                    text(Tenants::Status),
                    text(Tenants::Environment),
                    timestamp_null(Tenants::RbacLastCheckedAt),
                    timestamp_null(Tenants::RbacLastSetupAt),
                    json_null(Tenants::RbacCanaryResults),
                    json_null(Tenants::RbacLastWarnings),
                    json_null(Tenants::Metadata),
                ],
            )
            .foreign_key(&mut foreign_key(
                Tenants::Table,
                Tenants::WorkspaceId,
                Workspaces::Table,
                Restrict,
            ))
            .take(),
            table(
                ProviderConnections::Table,
                vec![
                    reference(ProviderConnections::TenantId),
                    text(ProviderConnections::Provider),
                    flag(ProviderConnections::IsDefault),
                    text(ProviderConnections::Status),
                    text(ProviderConnections::HealthStatus),
                    json_null(ProviderConnections::ScopesGranted),
                    timestamp_null(ProviderConnections::LastHealthCheckAt),
                    json_null(ProviderConnections::Metadata),
                ],
            )
            .foreign_key(&mut foreign_key(
                ProviderConnections::Table,
                ProviderConnections::TenantId,
                Tenants::Table,
                Cascade,
            ))
            .take(),
            table(
                TenantPermissions::Table,
                vec![
                    reference(TenantPermissions::TenantId),
                    text(TenantPermissions::Key),
                    text(TenantPermissions::Status),
                    json_null(TenantPermissions::Details),
                    timestamp_null(TenantPermissions::LastCheckedAt),
                ],
            )
            .foreign_key(&mut foreign_key(
                TenantPermissions::Table,
                TenantPermissions::TenantId,
                Tenants::Table,
                Cascade,
            ))
            .take(),
            table(
                OperationRuns::Table,
                vec![
                    reference(OperationRuns::WorkspaceId),
                    reference_null(OperationRuns::TenantId),
                    reference_null(OperationRuns::UserId),
                    text_null(OperationRuns::InitiatorName),
                    text(OperationRuns::Type),
                    text(OperationRuns::Status),
                    text(OperationRuns::Outcome),
                    json_null(OperationRuns::SummaryCounts),
                    json_null(OperationRuns::FailureSummary),
                    json_null(OperationRuns::Context),
                    timestamp_null(OperationRuns::StartedAt),
                    timestamp_null(OperationRuns::CompletedAt),
                ],
            )
            .foreign_key(&mut foreign_key(
                OperationRuns::Table,
                OperationRuns::WorkspaceId,
                Workspaces::Table,
                Restrict,
            ))
            .foreign_key(&mut foreign_key(
                OperationRuns::Table,
                OperationRuns::TenantId,
                Tenants::Table,
                SetNull,
            ))
            .foreign_key(&mut foreign_key(
                OperationRuns::Table,
                OperationRuns::UserId,
                Users::Table,
                SetNull,
            ))
            .take(),
            Table::create()
                .table(AuditLogs::Table)
                .col(id())
                .col(reference_null(AuditLogs::WorkspaceId))
                .col(reference_null(AuditLogs::TenantId))
                .col(reference_null(AuditLogs::ActorId))
                .col(text(AuditLogs::ActorType))
                .col(text_null(AuditLogs::ActorName))
                .col(text_null(AuditLogs::ActorEmail))
                .col(text(AuditLogs::Action))
                .col(text(AuditLogs::Status))
                .col(json_null(AuditLogs::Metadata))
                .col(timestamp(AuditLogs::RecordedAt))
                .col(timestamp(Timestamps::CreatedAt))
                .take(),
            table(
                PlatformUsers::Table,
                vec![
                    text(PlatformUsers::Name),
                    text(PlatformUsers::Email).unique_key().take(),
                    text(PlatformUsers::PasswordHash),
                    json_null(PlatformUsers::Capabilities),
                    ColumnDef::new(PlatformUsers::IsActive)
                        .boolean()
                        .not_null()
                        .default(true)
                        .take(),
                    timestamp_null(PlatformUsers::LastLoginAt),
                ],
            ),
            table(
                PlatformSessions::Table,
                vec![
                    reference(PlatformSessions::PlatformUserId),
                    text(PlatformSessions::TokenHash).unique_key().take(),
                    timestamp(PlatformSessions::ExpiresAt),
                    timestamp_null(PlatformSessions::LastSeenAt),
                    timestamp_null(PlatformSessions::RevokedAt),
                    timestamp_null(PlatformSessions::BreakGlassStartedAt),
                    timestamp_null(PlatformSessions::BreakGlassExpiresAt),
                    text_null(PlatformSessions::BreakGlassReason),
                    flag(PlatformSessions::BreakGlassExpiryRecorded),
                ],
            )
            .foreign_key(&mut foreign_key(
                PlatformSessions::Table,
                PlatformSessions::PlatformUserId,
                PlatformUsers::Table,
                Cascade,
            ))
            .take(),
        ];
        for table in tables {
            manager.create_table(table).await?;
        }

        let indexes = [
            index(
                WorkspaceMemberships::Table,
                &["workspace_id", "user_id"],
                true,
            ),
            index(WorkspaceMemberships::Table, &["user_id"], false),
            index(Tenants::Table, &["workspace_id", "name"], false),
            index(Tenants::Table, &["name", "id"], false),
            index(ProviderConnections::Table, &["tenant_id"], false),
            index(TenantPermissions::Table, &["tenant_id", "key"], true),
            index(OperationRuns::Table, &["workspace_id", "created_at"], false),
            index(OperationRuns::Table, &["tenant_id", "created_at"], false),
            index(
                OperationRuns::Table,
                &["status", "outcome", "created_at"],
                false,
            ),
            index(OperationRuns::Table, &["type", "created_at"], false),
            index(OperationRuns::Table, &["user_id"], false),
            index(OperationRuns::Table, &["created_at", "id"], false),
            index(AuditLogs::Table, &["action", "recorded_at"], false),
            index(AuditLogs::Table, &["actor_id", "recorded_at"], false),
            index(AuditLogs::Table, &["workspace_id", "recorded_at"], false),
            index(AuditLogs::Table, &["tenant_id", "recorded_at"], false),
            index(AuditLogs::Table, &["recorded_at", "id"], false),
            index(PlatformSessions::Table, &["platform_user_id"], false),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 10] = [
            PlatformSessions::Table.into_iden(),
            PlatformUsers::Table.into_iden(),
            AuditLogs::Table.into_iden(),
            OperationRuns::Table.into_iden(),
            TenantPermissions::Table.into_iden(),
            ProviderConnections::Table.into_iden(),
            Tenants::Table.into_iden(),
            WorkspaceMemberships::Table.into_iden(),
            Users::Table.into_iden(),
            Workspaces::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
