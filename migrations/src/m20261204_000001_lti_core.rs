//! Platforms, deployments, tool keys, login states, launch records and sessions.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000001_lti_core"
    }
}

#[derive(DeriveIden)]
enum Platforms {
    Table,
    Id,
    Issuer,
    ClientId,
    AuthUrl,
    TokenUrl,
    JwksUrl,
    TokenAudience,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Id,
    PlatformId,
    DeploymentId,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ToolKeys {
    Table,
    Id,
    Kid,
    PrivateKeyPem,
    PublicJwk,
    Status,
    CreatedAt,
    ActivatedAt,
    RetireAfter,
}

#[derive(DeriveIden)]
enum LoginStates {
    Table,
    State,
    Nonce,
    PlatformId,
    TargetLinkUri,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    PlatformId,
    Issuer,
    Subject,
    Name,
    Email,
    CreatedAt,
    LastLaunchAt,
}

#[derive(DeriveIden)]
enum Contexts {
    Table,
    Id,
    PlatformId,
    Issuer,
    ContextId,
    Label,
    Title,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ResourceLinks {
    Table,
    Id,
    PlatformId,
    ContextPk,
    Issuer,
    ResourceLinkId,
    Title,
    CredentialSlug,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    PlatformId,
    DeploymentPk,
    ContextPk,
    ResourceLinkPk,
    Roles,
    MessageType,
    Launch,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum LaunchFailures {
    Table,
    Id,
    PlatformId,
    Issuer,
    ClientId,
    DeploymentId,
    Reason,
    Detail,
    RequestId,
    CreatedAt,
}

fn id_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

fn timestamp<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn timestamp_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Platforms::Table)
                    .col(id_column(Platforms::Id))
                    .col(ColumnDef::new(Platforms::Issuer).string().not_null())
                    .col(ColumnDef::new(Platforms::ClientId).string().not_null())
                    .col(ColumnDef::new(Platforms::AuthUrl).text().not_null())
                    .col(ColumnDef::new(Platforms::TokenUrl).text().not_null())
                    .col(ColumnDef::new(Platforms::JwksUrl).text().not_null())
                    .col(ColumnDef::new(Platforms::TokenAudience).text().null())
                    .col(ColumnDef::new(Platforms::Status).string().not_null())
                    .col(timestamp(Platforms::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_platforms_issuer_client")
                    .table(Platforms::Table)
                    .col(Platforms::Issuer)
                    .col(Platforms::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Deployments::Table)
                    .col(id_column(Deployments::Id))
                    .col(ColumnDef::new(Deployments::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(Deployments::DeploymentId).string().not_null())
                    .col(ColumnDef::new(Deployments::Status).string().not_null())
                    .col(timestamp(Deployments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deployments::Table, Deployments::PlatformId)
                            .to(Platforms::Table, Platforms::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_deployments_platform_deployment")
                    .table(Deployments::Table)
                    .col(Deployments::PlatformId)
                    .col(Deployments::DeploymentId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ToolKeys::Table)
                    .col(id_column(ToolKeys::Id))
                    .col(ColumnDef::new(ToolKeys::Kid).string().not_null().unique_key())
                    .col(ColumnDef::new(ToolKeys::PrivateKeyPem).text().not_null())
                    .col(ColumnDef::new(ToolKeys::PublicJwk).text().not_null())
                    .col(ColumnDef::new(ToolKeys::Status).string().not_null())
                    .col(timestamp(ToolKeys::CreatedAt))
                    .col(timestamp_null(ToolKeys::ActivatedAt))
                    .col(timestamp_null(ToolKeys::RetireAfter))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginStates::Table)
                    .col(ColumnDef::new(LoginStates::State).string().not_null().primary_key())
                    .col(ColumnDef::new(LoginStates::Nonce).string().not_null())
                    .col(ColumnDef::new(LoginStates::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(LoginStates::TargetLinkUri).text().not_null())
                    .col(timestamp(LoginStates::CreatedAt))
                    .col(timestamp(LoginStates::ExpiresAt))
                    .col(timestamp_null(LoginStates::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_login_states_expires_at")
                    .table(LoginStates::Table)
                    .col(LoginStates::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id_column(Users::Id))
                    .col(ColumnDef::new(Users::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(Users::Issuer).string().not_null())
                    .col(ColumnDef::new(Users::Subject).string().not_null())
                    .col(ColumnDef::new(Users::Name).string().null())
                    .col(ColumnDef::new(Users::Email).string().null())
                    .col(timestamp(Users::CreatedAt))
                    .col(timestamp(Users::LastLaunchAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_issuer_subject")
                    .table(Users::Table)
                    .col(Users::Issuer)
                    .col(Users::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Contexts::Table)
                    .col(id_column(Contexts::Id))
                    .col(ColumnDef::new(Contexts::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(Contexts::Issuer).string().not_null())
                    .col(ColumnDef::new(Contexts::ContextId).string().not_null())
                    .col(ColumnDef::new(Contexts::Label).string().null())
                    .col(ColumnDef::new(Contexts::Title).string().null())
                    .col(timestamp(Contexts::CreatedAt))
                    .col(timestamp(Contexts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_contexts_issuer_context")
                    .table(Contexts::Table)
                    .col(Contexts::Issuer)
                    .col(Contexts::ContextId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ResourceLinks::Table)
                    .col(id_column(ResourceLinks::Id))
                    .col(ColumnDef::new(ResourceLinks::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(ResourceLinks::ContextPk).big_integer().null())
                    .col(ColumnDef::new(ResourceLinks::Issuer).string().not_null())
                    .col(ColumnDef::new(ResourceLinks::ResourceLinkId).string().not_null())
                    .col(ColumnDef::new(ResourceLinks::Title).string().null())
                    .col(ColumnDef::new(ResourceLinks::CredentialSlug).string().null())
                    .col(timestamp(ResourceLinks::CreatedAt))
                    .col(timestamp(ResourceLinks::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_resource_links_issuer_link")
                    .table(ResourceLinks::Table)
                    .col(ResourceLinks::Issuer)
                    .col(ResourceLinks::ResourceLinkId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::PlatformId).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::DeploymentPk).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::ContextPk).big_integer().null())
                    .col(ColumnDef::new(Sessions::ResourceLinkPk).big_integer().null())
                    .col(ColumnDef::new(Sessions::Roles).string().not_null())
                    .col(ColumnDef::new(Sessions::MessageType).string().not_null())
                    .col(ColumnDef::new(Sessions::Launch).text().not_null())
                    .col(timestamp(Sessions::CreatedAt))
                    .col(timestamp(Sessions::ExpiresAt))
                    .col(timestamp(Sessions::LastSeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sessions_expires_at")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LaunchFailures::Table)
                    .col(id_column(LaunchFailures::Id))
                    .col(ColumnDef::new(LaunchFailures::PlatformId).big_integer().null())
                    .col(ColumnDef::new(LaunchFailures::Issuer).string().null())
                    .col(ColumnDef::new(LaunchFailures::ClientId).string().null())
                    .col(ColumnDef::new(LaunchFailures::DeploymentId).string().null())
                    .col(ColumnDef::new(LaunchFailures::Reason).string().not_null())
                    .col(ColumnDef::new(LaunchFailures::Detail).text().not_null())
                    .col(ColumnDef::new(LaunchFailures::RequestId).string().not_null())
                    .col(timestamp(LaunchFailures::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_launch_failures_created_at")
                    .table(LaunchFailures::Table)
                    .col(LaunchFailures::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LaunchFailures::Table.into_iden(),
            Sessions::Table.into_iden(),
            ResourceLinks::Table.into_iden(),
            Contexts::Table.into_iden(),
            Users::Table.into_iden(),
            LoginStates::Table.into_iden(),
            ToolKeys::Table.into_iden(),
            Deployments::Table.into_iden(),
            Platforms::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
