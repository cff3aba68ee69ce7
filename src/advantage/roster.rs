//! Course rosters from Names and Role Provisioning Services, joined with
//! each member's progress in this course's micro-credentials.

use microcred_lti::advantage::{fetch_roster, Member, ServiceError, SCOPE_NRPS};
use microcred_lti::claims::NrpsClaim;
use microcred_lti::RoleSet;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use super::ServiceClient;
use crate::store::entities::{enrollment, platform, user};
use crate::workflow::{catalogue, participation};

/// One roster member with progress.
#[derive(Debug, Clone, Serialize)]
pub struct RosterRow {
    pub user_id: String,
    pub name: String,
    pub email: Option<String>,
    pub role_label: &'static str,
    pub launched: bool,
    /// The tool's user id, when the member has launched.
    pub local_user_id: Option<i64>,
    pub progress: Vec<RosterProgress>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RosterProgress {
    pub credential_title: String,
    pub mastered_count: usize,
    pub component_count: usize,
    pub earned: bool,
}

fn member_name(member: &Member) -> String {
    if let Some(name) = member.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return name.to_string();
    }
    let parts: Vec<&str> =
        [member.given_name.as_deref(), member.family_name.as_deref()].into_iter().flatten().collect();
    if parts.is_empty() {
        format!("Member {}", member.user_id)
    } else {
        parts.join(" ")
    }
}

/// Fetch the roster and join it with local progress.
pub async fn roster(
    client: &ServiceClient,
    platform: &platform::Model,
    nrps: &NrpsClaim,
    context_pk: i64,
) -> Result<Vec<RosterRow>, ServiceError> {
    let token = match client.token(platform, &[SCOPE_NRPS]).await {
        Ok(token) => token,
        Err(error) => return Err(error),
    };
    let members = match fetch_roster(&client.http, &token, &nrps.context_memberships_url).await {
        Err(ServiceError::Unauthorized { .. }) => {
            client.forget_token(platform, &[SCOPE_NRPS]);
            let token = client.token(platform, &[SCOPE_NRPS]).await?;
            fetch_roster(&client.http, &token, &nrps.context_memberships_url).await?
        }
        other => other?,
    };
    let db_error = |e: sea_orm::DbErr| ServiceError::Network(e.to_string());
    let mut rows = Vec::new();
    for member in members {
        let local = user::Entity::find()
            .filter(user::Column::Issuer.eq(&platform.issuer))
            .filter(user::Column::Subject.eq(&member.user_id))
            .one(&client.db)
            .await
            .map_err(db_error)?;
        let mut progress = Vec::new();
        if let Some(local) = &local {
            let enrollments = enrollment::Entity::find()
                .filter(enrollment::Column::UserId.eq(local.id))
                .filter(enrollment::Column::ContextPk.eq(context_pk))
                .all(&client.db)
                .await
                .map_err(db_error)?;
            for e in enrollments {
                let Ok(entry) = catalogue::version(&client.db, e.credential_version_id).await else { continue };
                let attempts = participation::attempts_of(&client.db, e.id).await.unwrap_or_default();
                let Ok(p) = participation::progress(&entry.definition, &attempts) else { continue };
                progress.push(RosterProgress {
                    credential_title: entry.definition.title.clone(),
                    mastered_count: p.mastered_count,
                    component_count: p.component_count,
                    earned: e.earned_at.is_some(),
                });
            }
        }
        let roles = RoleSet::from_claim(&member.roles);
        rows.push(RosterRow {
            name: member_name(&member),
            email: member.email.clone(),
            role_label: crate::web::page::role_label(roles.primary()),
            launched: local.is_some(),
            local_user_id: local.map(|u| u.id),
            user_id: member.user_id,
            progress,
        });
    }
    rows.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()));
    Ok(rows)
}
