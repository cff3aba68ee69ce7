//! The Registrations admin pages: every registration of the installation
//! with its deployments, courses and failed launches, and the changes an
//! admin makes to them. Every function that takes a [`Viewer`] first checks
//! that the viewer may manage registrations (see
//! [`Viewer::can_manage_registrations`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::{FieldProblem, PlatformError, PlatformInput};
use crate::store::entities::{context, deployment, launch_failure, platform};
use crate::store::launches as launch_store;
use crate::store::platforms::{self as platform_store, STATUS_ACTIVE, STATUS_DISABLED, STATUS_PENDING, STATUS_REMOVED};
use crate::workflow::access::Viewer;
use crate::workflow::{Result, WorkflowError};

/// How many courses the detail page lists, the most recently launched first.
pub const COURSE_LIMIT: u64 = 50;
/// How many failed launches the detail page lists, newest first.
pub const FAILURE_LIMIT: u64 = 50;

impl From<PlatformError> for WorkflowError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::Invalid(problems) => {
                WorkflowError::Invalid(problems.iter().map(ToString::to_string).collect())
            }
            PlatformError::NotFound { .. } | PlatformError::NoSuchId { .. } => {
                WorkflowError::NotFound(format!("{error}. Open it again from the Registrations page."))
            }
            PlatformError::Database(error) => WorkflowError::Database(error),
        }
    }
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        STATUS_ACTIVE => "Active",
        STATUS_PENDING => "Waiting for approval",
        STATUS_DISABLED => "Disabled",
        STATUS_REMOVED => "Removed",
        _ => "Unknown status",
    }
}

pub fn source_label(source: &str) -> &'static str {
    match source {
        platform_store::SOURCE_MANUAL => "Added by hand",
        platform_store::SOURCE_DYNAMIC => "Dynamic registration",
        _ => "Unknown source",
    }
}

/// One deployment, as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentRow {
    /// The row id, used in the action URLs.
    pub id: i64,
    pub deployment_id: String,
    pub status: String,
    pub status_label: &'static str,
    pub created_at: DateTime<Utc>,
}

impl From<&deployment::Model> for DeploymentRow {
    fn from(row: &deployment::Model) -> Self {
        Self {
            id: row.id,
            deployment_id: row.deployment_id.clone(),
            status: row.status.clone(),
            status_label: status_label(&row.status),
            created_at: row.created_at,
        }
    }
}

/// One registration with its deployments and the number of its courses and users.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationRow {
    pub id: i64,
    /// The display name, else the product family, else the client id.
    pub name: String,
    pub display_name: Option<String>,
    pub product_family: Option<String>,
    pub issuer: String,
    pub client_id: String,
    pub source: String,
    pub source_label: &'static str,
    pub status: String,
    pub status_label: &'static str,
    pub manages_registrations: bool,
    /// Whether the viewer launched through this registration.
    pub is_own: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub deployments: Vec<DeploymentRow>,
    pub course_count: u64,
    pub user_count: u64,
}

/// Returns the name the pages give a registration: its display name, else
/// its product family, else its client id.
pub fn display_name_of(platform: &platform::Model) -> String {
    [&platform.display_name, &platform.product_family]
        .into_iter()
        .flatten()
        .find(|name| !name.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| format!("Client {}", platform.client_id))
}

fn registration_row(
    viewer: &Viewer,
    platform: &platform::Model,
    deployments: &[deployment::Model],
    course_count: u64,
    user_count: u64,
) -> RegistrationRow {
    RegistrationRow {
        id: platform.id,
        name: display_name_of(platform),
        display_name: platform.display_name.clone(),
        product_family: platform.product_family.clone(),
        issuer: platform.issuer.clone(),
        client_id: platform.client_id.clone(),
        source: platform.source.clone(),
        source_label: source_label(&platform.source),
        status: platform.status.clone(),
        status_label: status_label(&platform.status),
        manages_registrations: platform.manages_registrations,
        is_own: platform.id == viewer.platform_id,
        created_at: platform.created_at,
        updated_at: platform.updated_at,
        deployments: deployments.iter().map(DeploymentRow::from).collect(),
        course_count,
        user_count,
    }
}

/// The registrations that share one issuer.
#[derive(Debug, Clone, Serialize)]
pub struct IssuerGroup {
    pub issuer: String,
    pub registrations: Vec<RegistrationRow>,
}

/// A deployment that waits for approval, with its registration.
#[derive(Debug, Clone, Serialize)]
pub struct PendingDeployment {
    pub registration_id: i64,
    pub registration_name: String,
    pub issuer: String,
    pub client_id: String,
    pub deployment: DeploymentRow,
}

/// The list page: what waits for approval, then every registration by issuer.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub pending_registrations: Vec<RegistrationRow>,
    pub pending_deployments: Vec<PendingDeployment>,
    /// Sorted by issuer; the registrations of a group by id.
    pub groups: Vec<IssuerGroup>,
    pub registration_count: usize,
    /// Removed registrations, counted whether they are listed or not.
    pub removed_count: usize,
    pub show_removed: bool,
}

/// One course of a registration.
#[derive(Debug, Clone, Serialize)]
pub struct CourseRow {
    pub context_id: String,
    pub title: Option<String>,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_launch_at: DateTime<Utc>,
}

impl From<context::Model> for CourseRow {
    fn from(row: context::Model) -> Self {
        Self {
            context_id: row.context_id,
            title: row.title,
            label: row.label,
            created_at: row.created_at,
            last_launch_at: row.updated_at,
        }
    }
}

/// One failed login or launch of a registration.
#[derive(Debug, Clone, Serialize)]
pub struct FailureRow {
    pub at: DateTime<Utc>,
    pub reason: String,
    pub detail: String,
    pub deployment_id: Option<String>,
    pub request_id: String,
}

impl From<launch_failure::Model> for FailureRow {
    fn from(row: launch_failure::Model) -> Self {
        Self {
            at: row.created_at,
            reason: row.reason,
            detail: row.detail,
            deployment_id: row.deployment_id,
            request_id: row.request_id,
        }
    }
}

/// The detail page of one registration.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub registration: RegistrationRow,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    pub token_audience: Option<String>,
    /// The most recently launched courses, at most [`COURSE_LIMIT`].
    pub courses: Vec<CourseRow>,
    /// The newest failed launches, at most [`FAILURE_LIMIT`].
    pub failures: Vec<FailureRow>,
    pub course_limit: u64,
    pub failure_limit: u64,
}

/// The result of the add form.
#[derive(Debug)]
pub enum AddOutcome {
    /// The id of the registration as stored.
    Stored { id: i64 },
    /// Nothing was stored; each problem names its field.
    Invalid(Vec<FieldProblem>),
}

/// The result of an action, carried in the query of the redirect that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Approved,
    Disabled,
    Removed,
    Added,
    DeploymentApproved,
    DeploymentDisabled,
}

impl Done {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Disabled => "disabled",
            Self::Removed => "removed",
            Self::Added => "added",
            Self::DeploymentApproved => "deployment-approved",
            Self::DeploymentDisabled => "deployment-disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Approved,
            Self::Disabled,
            Self::Removed,
            Self::Added,
            Self::DeploymentApproved,
            Self::DeploymentDisabled,
        ]
        .into_iter()
        .find(|done| done.as_str() == text)
    }
}

/// Describe what an action did to registration `id` (and to its deployment
/// `deployment_pk`), for the page the action redirects to. Returns `None`
/// when the registration or deployment no longer exists.
pub async fn notice(
    db: &DatabaseConnection,
    done: Done,
    id: i64,
    deployment_pk: Option<i64>,
) -> Result<Option<String>> {
    let Some(platform) = platform_store::by_id(db, id).await? else { return Ok(None) };
    let name = display_name_of(&platform);
    let deployment = match deployment_pk {
        Some(pk) => platform_store::deployment_by_id(db, pk).await?.filter(|row| row.platform_id == id),
        None => None,
    };
    let text = match (done, deployment) {
        (Done::Approved, _) => format!("{name} is active. Launches from it are accepted now."),
        (Done::Disabled, _) => {
            format!("{name} is disabled. Its launches are rejected; its users, courses and work are kept.")
        }
        (Done::Removed, _) => format!(
            "{name} is removed. Its users, courses and work are kept, and adding it again with the same issuer \
             and client id brings it back."
        ),
        (Done::Added, _) => format!("{name} is saved and active."),
        (Done::DeploymentApproved, Some(row)) => format!(
            "Deployment {} of {name} is active. Launches through it are accepted now.",
            row.deployment_id
        ),
        (Done::DeploymentDisabled, Some(row)) => format!(
            "Deployment {} of {name} is disabled. Launches through it are rejected.",
            row.deployment_id
        ),
        (Done::DeploymentApproved | Done::DeploymentDisabled, None) => return Ok(None),
    };
    Ok(Some(text))
}

/// Check that the viewer may manage registrations.
pub async fn check_manager(db: &DatabaseConnection, viewer: &Viewer) -> Result<()> {
    let own = platform_store::by_id(db, viewer.platform_id).await?;
    viewer.check_registration_manager(own.as_ref())
}

/// Returns whether the viewer may manage registrations, for the navigation.
pub async fn can_manage(db: &DatabaseConnection, viewer: &Viewer) -> Result<bool> {
    let own = platform_store::by_id(db, viewer.platform_id).await?;
    Ok(viewer.can_manage_registrations(own.as_ref()))
}

/// List every registration grouped by issuer, removed ones only when
/// `show_removed` is set, with what waits for approval first.
pub async fn overview(db: &DatabaseConnection, viewer: &Viewer, show_removed: bool) -> Result<Overview> {
    check_manager(db, viewer).await?;
    let platforms = platform_store::all(db).await?;
    let mut deployments: HashMap<i64, Vec<deployment::Model>> = HashMap::new();
    for row in platform_store::all_deployments(db).await? {
        deployments.entry(row.platform_id).or_default().push(row);
    }
    let course_counts = launch_store::context_counts_by_platform(db).await?;
    let user_counts = launch_store::user_counts_by_platform(db).await?;

    let removed_count = platforms.iter().filter(|p| p.status == STATUS_REMOVED).count();
    let mut groups: BTreeMap<String, Vec<RegistrationRow>> = BTreeMap::new();
    let mut pending_registrations = Vec::new();
    let mut pending_deployments = Vec::new();
    let mut registration_count = 0;
    for platform in platforms.iter().filter(|p| show_removed || p.status != STATUS_REMOVED) {
        let own_deployments = deployments.get(&platform.id).map(Vec::as_slice).unwrap_or_default();
        let row = registration_row(
            viewer,
            platform,
            own_deployments,
            course_counts.get(&platform.id).copied().unwrap_or(0),
            user_counts.get(&platform.id).copied().unwrap_or(0),
        );
        for waiting in own_deployments.iter().filter(|d| d.status == STATUS_PENDING) {
            pending_deployments.push(PendingDeployment {
                registration_id: platform.id,
                registration_name: row.name.clone(),
                issuer: platform.issuer.clone(),
                client_id: platform.client_id.clone(),
                deployment: DeploymentRow::from(waiting),
            });
        }
        if platform.status == STATUS_PENDING {
            pending_registrations.push(row.clone());
        }
        registration_count += 1;
        groups.entry(platform.issuer.clone()).or_default().push(row);
    }
    let groups = groups.into_iter().map(|(issuer, registrations)| IssuerGroup { issuer, registrations }).collect();
    Ok(Overview {
        pending_registrations,
        pending_deployments,
        groups,
        registration_count,
        removed_count,
        show_removed,
    })
}

/// Show one registration with its URLs, deployments, recent courses and
/// recent failed launches.
pub async fn detail(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> Result<Detail> {
    check_manager(db, viewer).await?;
    let platform = super::by_id(db, id).await?;
    let deployments = platform_store::deployments(db, id).await?;
    let course_count = launch_store::count_contexts_of_platform(db, id).await?;
    let user_count = launch_store::count_users_of_platform(db, id).await?;
    let courses = launch_store::recent_contexts_of_platform(db, id, COURSE_LIMIT).await?;
    let failures = launch_store::recent_failures_of_platform(db, id, FAILURE_LIMIT).await?;
    Ok(Detail {
        registration: registration_row(viewer, &platform, &deployments, course_count, user_count),
        auth_url: platform.auth_url,
        token_url: platform.token_url,
        jwks_url: platform.jwks_url,
        token_audience: platform.token_audience,
        courses: courses.into_iter().map(CourseRow::from).collect(),
        failures: failures.into_iter().map(FailureRow::from).collect(),
        course_limit: COURSE_LIMIT,
        failure_limit: FAILURE_LIMIT,
    })
}

/// Approve a pending registration, or enable a disabled or removed one.
pub async fn approve(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> Result<platform::Model> {
    check_manager(db, viewer).await?;
    let approved = super::approve(db, super::by_id(db, id).await?).await?;
    tracing::info!(registration = id, actor_user_id = viewer.user_id, "registration approved");
    Ok(approved)
}

/// Reject switching off the registration the viewer launched through,
/// which would lock the viewer out of these pages.
fn check_not_own(viewer: &Viewer, id: i64, action: &str) -> Result<()> {
    if id == viewer.platform_id {
        return Err(WorkflowError::Conflict(format!(
            "You are signed in through this registration, so you cannot {action} it here. Use the command \
             microcred platform {action} on the server, or the Registrations page opened from another LMS \
             whose registration manages registrations."
        )));
    }
    Ok(())
}

/// Disable a registration: its launches are rejected, and its records kept.
pub async fn disable(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> Result<platform::Model> {
    check_manager(db, viewer).await?;
    check_not_own(viewer, id, "disable")?;
    let disabled = super::disable(db, super::by_id(db, id).await?).await?;
    tracing::info!(registration = id, actor_user_id = viewer.user_id, "registration disabled");
    Ok(disabled)
}

/// Remove a registration from the list; nothing it recorded is deleted.
pub async fn remove(db: &DatabaseConnection, viewer: &Viewer, id: i64) -> Result<platform::Model> {
    check_manager(db, viewer).await?;
    check_not_own(viewer, id, "remove")?;
    let removed = super::remove(db, super::by_id(db, id).await?).await?;
    tracing::info!(registration = id, actor_user_id = viewer.user_id, "registration removed");
    Ok(removed)
}

/// Set the status of deployment `deployment_pk` of registration `id` to
/// active (`approve`) or disabled. Returns the registration and the
/// deployment as stored.
pub async fn set_deployment_status(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
    deployment_pk: i64,
    approve: bool,
) -> Result<(platform::Model, deployment::Model)> {
    check_manager(db, viewer).await?;
    let platform = super::by_id(db, id).await?;
    let found = platform_store::deployment_by_id(db, deployment_pk)
        .await?
        .filter(|row| row.platform_id == platform.id)
        .ok_or_else(|| {
            WorkflowError::NotFound(format!("Registration {id} has no deployment {deployment_pk}. Reload the page."))
        })?;
    let status = if approve { STATUS_ACTIVE } else { STATUS_DISABLED };
    platform_store::set_deployment_status(db, found.id, status).await?;
    tracing::info!(
        registration = id,
        deployment = %found.deployment_id,
        status,
        actor_user_id = viewer.user_id,
        "deployment status changed"
    );
    Ok((platform, deployment::Model { status: status.to_string(), ..found }))
}

/// Add a registration by hand, or update and re-enable the one with the
/// same issuer and client id. This never gives the right to manage
/// registrations, and a registration that has it keeps it.
pub async fn add(db: &DatabaseConnection, viewer: &Viewer, input: PlatformInput) -> Result<AddOutcome> {
    check_manager(db, viewer).await?;
    let input = PlatformInput { manages_registrations: false, ..input };
    match super::add(db, input).await {
        Ok((stored, _)) => {
            tracing::info!(registration = stored.id, actor_user_id = viewer.user_id, "registration added by hand");
            Ok(AddOutcome::Stored { id: stored.id })
        }
        Err(PlatformError::Invalid(problems)) => Ok(AddOutcome::Invalid(problems)),
        Err(error) => Err(error.into()),
    }
}
