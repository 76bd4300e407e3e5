//! Dashboard tokens (SPEC §9c): long-lived, revocable API tokens for wallboards, which
//! are not people. Only a token's SHA-256 is stored; a token made with trusted documents
//! keeps them, so that it runs only those.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000004_dashboard_tokens"
    }
}

#[derive(DeriveIden)]
enum PlatformApiTokens {
    Table,
    Id,
    Name,
    TokenHash,
    Capabilities,
    Documents,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
}

fn timestamp(column: PlatformApiTokens, null: bool) -> ColumnDef {
    let mut column = ColumnDef::new(column);
    column.timestamp_with_time_zone();
    if null {
        column.null();
    } else {
        column.not_null();
    }
    column.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlatformApiTokens::Table)
                    .col(
                        ColumnDef::new(PlatformApiTokens::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PlatformApiTokens::Name)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(PlatformApiTokens::TokenHash)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(PlatformApiTokens::Capabilities)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PlatformApiTokens::Documents)
                            .json_binary()
                            .not_null(),
                    )
                    .col(timestamp(PlatformApiTokens::ExpiresAt, false))
                    .col(timestamp(PlatformApiTokens::LastUsedAt, true))
                    .col(timestamp(PlatformApiTokens::RevokedAt, true))
                    .col(timestamp(PlatformApiTokens::CreatedAt, false))
                    .col(timestamp(PlatformApiTokens::UpdatedAt, false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlatformApiTokens::Table).to_owned())
            .await
    }
}
