//! Assessors' endpoints: the queue, assessments and a participant's history.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use microcred_domain::AssessmentInput;
use serde::{Deserialize, Serialize};

use super::support::{ApiContext, ApiError, ApiJson, ApiPath, ApiQuery};
use super::views::{AssessmentView, Items, OverviewView, ProgressView};
use crate::workflow::assessing::{self, display_name, QueueFilter};

pub async fn queue(ctx: ApiContext, ApiQuery(filter): ApiQuery<QueueFilter>) -> Result<Response, ApiError> {
    let items = assessing::queue(ctx.db(), &ctx.viewer, &filter).await?;
    Ok(ctx.ok(&Items { items }))
}

/// An assessment as an assessor sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentBody {
    /// Level key per criterion key, for every criterion of the rubric.
    ratings: BTreeMap<String, String>,
    /// Feedback per criterion key; required for each criterion rated below mastery.
    #[serde(default)]
    feedback: BTreeMap<String, String>,
    #[serde(default)]
    overall_comment: String,
}

/// The decision and what it changed for the participant.
#[derive(Debug, Serialize)]
struct AssessmentResultView {
    /// `mastered` or `not_yet_mastered`.
    decision: String,
    mastered: bool,
    /// Criteria rated below their mastery level.
    shortfalls: Vec<String>,
    progress: ProgressView,
    /// Whether this assessment completed the micro-credential.
    earned: bool,
    assessment: AssessmentView,
}

/// Records an assessment: 201, or 409 when another assessment came first.
pub async fn assess(
    ctx: ApiContext,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AssessmentBody>,
) -> Result<Response, ApiError> {
    let input =
        AssessmentInput { ratings: body.ratings, feedback: body.feedback, overall_comment: body.overall_comment };
    let result = assessing::assess(ctx.db(), ctx.state.state_hook(), &ctx.viewer, id, input).await?;
    // Rounded down, as the domain's progress computes it.
    let percent_complete = (result.mastered_count * 100)
        .checked_div(result.component_count)
        .map_or(0, |percent| u8::try_from(percent).unwrap_or(100));
    let view = AssessmentResultView {
        decision: result.assessment.decision.clone(),
        mastered: result.mastered,
        shortfalls: result.shortfalls,
        progress: ProgressView {
            mastered_count: result.mastered_count,
            component_count: result.component_count,
            percent_complete,
        },
        earned: result.earned,
        assessment: AssessmentView::from(&result.assessment),
    };
    Ok(ctx.json(StatusCode::CREATED, &view))
}

#[derive(Debug, Serialize)]
struct ParticipantView {
    id: i64,
    name: String,
    email: Option<String>,
}

#[derive(Debug, Serialize)]
struct HistoryView {
    participant: ParticipantView,
    enrollments: Vec<OverviewView>,
}

/// Returns a participant's enrolments in the assessor's course, with every attempt.
pub async fn participant(ctx: ApiContext, ApiPath(user_id): ApiPath<i64>) -> Result<Response, ApiError> {
    let (user, overviews) = assessing::participant_history(ctx.db(), &ctx.viewer, user_id).await?;
    let view = HistoryView {
        participant: ParticipantView { id: user.id, name: display_name(&user), email: user.email.clone() },
        enrollments: overviews.into_iter().filter_map(OverviewView::new).collect(),
    };
    Ok(ctx.ok(&view))
}
