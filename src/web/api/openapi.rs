//! The OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`.
//!
//! The document is written here by hand, next to the router. The test
//! `openapi_lists_every_route` in `tests/it/api.rs` checks that both list the
//! same routes.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::Verb;

/// Serves the document, which needs no session.
pub async fn serve() -> Response {
    Json(document()).into_response()
}

/// Returns the OpenAPI document, built on first use.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

/// One operation, built step by step.
struct Op(Map<String, Value>);

impl Op {
    fn new(tag: &str, id: &str, summary: &str) -> Self {
        let mut map = Map::new();
        map.insert("tags".into(), json!([tag]));
        map.insert("operationId".into(), json!(id));
        map.insert("summary".into(), json!(summary));
        map.insert("parameters".into(), json!([]));
        map.insert("responses".into(), json!({}));
        Op(map)
    }

    fn describe(mut self, text: &str) -> Self {
        self.0.insert("description".into(), json!(text));
        self
    }

    fn param(mut self, location: &str, name: &str, schema: Value, required: bool, description: &str) -> Self {
        if let Some(Value::Array(parameters)) = self.0.get_mut("parameters") {
            parameters.push(json!({
                "name": name,
                "in": location,
                "required": required,
                "description": description,
                "schema": schema,
            }));
        }
        self
    }

    fn id_param(self, name: &str, description: &str) -> Self {
        self.param("path", name, json!({"type": "integer", "format": "int64"}), true, description)
    }

    fn text_param(self, name: &str, description: &str) -> Self {
        self.param("path", name, json!({"type": "string"}), true, description)
    }

    fn query(self, name: &str, schema: Value, description: &str) -> Self {
        self.param("query", name, schema, false, description)
    }

    fn body(mut self, description: &str, content: Value) -> Self {
        self.0.insert("requestBody".into(), json!({"required": true, "description": description, "content": content}));
        self
    }

    fn json_body(self, description: &str, schema: &str) -> Self {
        self.body(description, json!({"application/json": {"schema": schema_ref(schema)}}))
    }

    fn respond(mut self, status: u16, description: &str, content: Option<Value>) -> Self {
        let mut response = json!({
            "description": description,
            "headers": {
                "x-session-token": {"$ref": "#/components/headers/SessionToken"},
                "x-session-token-expires-at": {"$ref": "#/components/headers/SessionTokenExpiresAt"},
            },
        });
        if let Some(content) = content {
            response["content"] = content;
        }
        if let Some(Value::Object(responses)) = self.0.get_mut("responses") {
            responses.insert(status.to_string(), response);
        }
        self
    }

    fn returns(self, status: u16, description: &str, schema: &str) -> Self {
        self.respond(status, description, Some(json!({"application/json": {"schema": schema_ref(schema)}})))
    }

    /// Adds the shared error responses. Every authenticated operation also gets 401 and 500.
    fn errors(mut self, statuses: &[u16]) -> Self {
        if let Some(Value::Object(responses)) = self.0.get_mut("responses") {
            for status in statuses.iter().chain(&[401, 500]) {
                let name = match status {
                    400 => "BadRequest",
                    401 => "Unauthorized",
                    403 => "Forbidden",
                    404 => "NotFound",
                    409 => "Conflict",
                    413 => "TooLarge",
                    415 => "UnsupportedMediaType",
                    _ => "Internal",
                };
                responses.insert(status.to_string(), json!({"$ref": format!("#/components/responses/{name}")}));
            }
        }
        self
    }

    fn public(mut self) -> Self {
        self.0.insert("security".into(), json!([]));
        self
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

struct Paths(Map<String, Value>);

impl Paths {
    fn add(&mut self, verb: Verb, path: &str, op: Op) {
        let item = self.0.entry(path.to_string()).or_insert_with(|| json!({}));
        item[verb.as_str()] = Value::Object(op.0);
    }
}

const CATALOGUE_FORMAT: &str = "Keys and limits are those of the catalogue format (domain/CATALOGUE_FORMAT.md); \
     JSON uses the same keys as TOML, so arrays of tables have singular names such as `component`.";

fn build() -> Value {
    use Verb::{Delete, Get, Post, Put};

    let mut paths = Paths(Map::new());

    paths.add(
        Get,
        "/api/openapi.json",
        Op::new("meta", "openapi", "This OpenAPI document").public().respond(
            200,
            "The document.",
            Some(json!({"application/json": {"schema": {"type": "object"}}})),
        ),
    );
    paths.add(
        Get,
        "/api/v1/session",
        Op::new("session", "getSession", "Who is signed in, and a fresh token")
            .describe(
                "Start a script with the page token of a launch (the `_s` query parameter of the page after \
                 launch). Every response carries a fresh token in `x-session-token`; the token works for \
                 `session.idle_minutes` after it was issued, and never after the session ends.",
            )
            .returns(200, "The session.", "Session")
            .errors(&[]),
    );

    paths.add(
        Get,
        "/api/v1/catalogue",
        Op::new("catalogue", "listCatalogue", "Micro-credentials on offer")
            .returns(200, "Active micro-credentials at their current versions, by title.", "CatalogueList")
            .errors(&[]),
    );
    paths.add(
        Get,
        "/api/v1/catalogue/{slug}",
        Op::new("catalogue", "getCredential", "One micro-credential with its full definition")
            .text_param("slug", "The micro-credential's slug.")
            .returns(200, "The current version.", "Credential")
            .errors(&[404]),
    );
    paths.add(
        Post,
        "/api/v1/catalogue/{slug}/enrollment",
        Op::new("enrolments", "enroll", "Enrol in a micro-credential in the current course")
            .describe(
                "Enrols the signed-in participant with the ticked self-check items. Enrolling again returns \
                 the existing enrolment unchanged, with 200; use PUT /api/v1/enrollments/{id}/self-check to \
                 change its ticks.",
            )
            .text_param("slug", "The micro-credential's slug.")
            .json_body("The ticked self-check items.", "SelfCheckInput")
            .returns(201, "The new enrolment and whether to take the linked course first.", "Enrolled")
            .returns(200, "The enrolment that already existed.", "Enrolled")
            .errors(&[400, 403, 404, 415]),
    );
    paths.add(
        Get,
        "/api/v1/enrollments",
        Op::new("enrolments", "listEnrollments", "The signed-in user's enrolments in the current course")
            .returns(200, "The enrolments with their progress.", "EnrollmentList")
            .errors(&[]),
    );
    paths.add(
        Get,
        "/api/v1/enrollments/{id}",
        Op::new("enrolments", "getEnrollment", "An enrolment's components, states and progress")
            .describe("Open to the enrolment's owner and to the assessors of its course.")
            .id_param("id", "The enrolment id.")
            .returns(200, "The overview.", "Overview")
            .errors(&[404]),
    );
    paths.add(
        Put,
        "/api/v1/enrollments/{id}/self-check",
        Op::new("enrolments", "replaceSelfCheck", "Replace the ticked self-check items")
            .id_param("id", "The enrolment id.")
            .json_body("Every ticked item; items left out count as unticked.", "SelfCheckInput")
            .returns(200, "The enrolment and the new self-check result.", "Enrolled")
            .errors(&[400, 404, 415]),
    );

    paths.add(
        Post,
        "/api/v1/enrollments/{id}/components/{key}/attempts",
        Op::new("attempts", "openDraft", "Open the draft of a component")
            .describe(
                "Returns the component's open draft, or starts a new attempt when none is open and the rules \
                 allow one: no attempt yet, or the last one was assessed as not yet mastered. A resubmission \
                 starts from the text of the previous attempt. 409 when the component is submitted or mastered.",
            )
            .id_param("id", "The enrolment id.")
            .text_param("key", "The component key.")
            .returns(200, "The draft.", "AttemptDetail")
            .errors(&[404, 409]),
    );
    paths.add(
        Get,
        "/api/v1/attempts/{id}",
        Op::new("attempts", "getAttempt", "An attempt with its files and assessment")
            .describe("Open to the attempt's owner and to the assessors of its course.")
            .id_param("id", "The attempt id.")
            .returns(200, "The attempt.", "AttemptDetail")
            .errors(&[404]),
    );
    paths.add(
        Put,
        "/api/v1/attempts/{id}/draft",
        Op::new("attempts", "saveDraft", "Save a draft")
            .describe(
                "Only size limits apply to a draft; the component's requirements are checked on submit. \
                 409 when the attempt is no longer a draft.",
            )
            .id_param("id", "The attempt id.")
            .json_body("The fields to change.", "DraftInput")
            .returns(200, "The saved attempt.", "Attempt")
            .errors(&[400, 404, 409, 415]),
    );
    paths.add(
        Post,
        "/api/v1/attempts/{id}/files",
        Op::new("attempts", "uploadFile", "Attach a file to a draft")
            .describe(
                "The file's content type must be one of `storage.allowed_types` and match the file's first \
                 bytes; its size at most `storage.max_file_mb`; the number of files at most the component's \
                 `max_count`. Each failure answers with the reason.",
            )
            .id_param("id", "The attempt id.")
            .body(
                "The file, as multipart/form-data.",
                json!({"multipart/form-data": {"schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream",
                        "description": "The file, with its name and content type in the part's headers."}},
                }}}),
            )
            .returns(201, "The stored file.", "File")
            .errors(&[400, 404, 409, 413]),
    );
    paths.add(
        Post,
        "/api/v1/attempts/{id}/submit",
        Op::new("attempts", "submitAttempt", "Submit a draft for assessment")
            .describe("400 lists every requirement the draft does not meet yet.")
            .id_param("id", "The attempt id.")
            .returns(200, "The submitted attempt.", "Attempt")
            .errors(&[400, 404, 409]),
    );
    paths.add(
        Get,
        "/api/v1/files/{id}",
        Op::new("attempts", "downloadFile", "Download a file")
            .describe("An attachment with the original name and the stored content type.")
            .id_param("id", "The file id.")
            .respond(
                200,
                "The file's bytes.",
                Some(json!({"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}})),
            )
            .errors(&[404]),
    );
    paths.add(
        Delete,
        "/api/v1/files/{id}",
        Op::new("attempts", "removeFile", "Remove a file from a draft")
            .id_param("id", "The file id.")
            .respond(204, "Removed.", None)
            .errors(&[404, 409]),
    );
    paths.add(
        Get,
        "/api/v1/transcript",
        Op::new("transcript", "getTranscript", "Every micro-credential the signed-in user has earned")
            .returns(200, "The transcript, across courses of the same LMS.", "Transcript")
            .errors(&[]),
    );

    paths.add(
        Get,
        "/api/v1/queue",
        Op::new("assessing", "listQueue", "Submitted attempts waiting for assessment in the current course")
            .query("credential", json!({"type": "string"}), "Only this micro-credential (slug).")
            .query("component", json!({"type": "string"}), "Only this component (key).")
            .returns(200, "The queue, oldest submission first.", "Queue")
            .errors(&[400, 403]),
    );
    paths.add(
        Post,
        "/api/v1/attempts/{id}/assessment",
        Op::new("assessing", "assessAttempt", "Assess a submitted attempt against its rubric")
            .describe(
                "The component is mastered only when every criterion is rated at or above its mastery level. \
                 The first assessment of an attempt stands: a second one answers 409 and changes nothing. \
                 Nobody assesses their own submission (403).",
            )
            .id_param("id", "The attempt id.")
            .json_body("Ratings, feedback and an overall comment.", "AssessmentInput")
            .returns(201, "The decision and the participant's progress.", "AssessmentResult")
            .errors(&[400, 403, 404, 409, 415]),
    );
    paths.add(
        Get,
        "/api/v1/participants/{user_id}",
        Op::new("assessing", "getParticipant", "A participant's enrolments and attempts in the current course")
            .id_param("user_id", "The participant's user id (`participant_user_id` of an attempt).")
            .returns(200, "The participant's history.", "ParticipantHistory")
            .errors(&[403, 404]),
    );

    paths.add(
        Get,
        "/api/v1/admin/catalogue",
        Op::new("admin", "adminListCatalogue", "Every micro-credential, archived ones included")
            .returns(200, "The catalogue.", "CatalogueList")
            .errors(&[403]),
    );
    paths.add(
        Post,
        "/api/v1/admin/catalogue/import",
        Op::new("admin", "importCatalogue", "Import a catalogue")
            .describe(&format!(
                "Adds new micro-credentials and a new version of each changed one, in one transaction: all \
                 or nothing. 400 lists every problem. {CATALOGUE_FORMAT}"
            ))
            .body("The catalogue.", catalogue_text_content("Catalogue"))
            .returns(200, "What the import changed.", "ImportReport")
            .errors(&[400, 403, 413, 415]),
    );
    paths.add(
        Get,
        "/api/v1/admin/catalogue/export",
        Op::new("admin", "exportCatalogue", "Export the active micro-credentials as TOML")
            .query("slug", json!({"type": "string"}), "Export only this micro-credential.")
            .respond(200, "The catalogue file.", Some(json!({"application/toml": {"schema": {"type": "string"}}})))
            .errors(&[400, 403, 404]),
    );
    paths.add(
        Put,
        "/api/v1/admin/catalogue/{slug}",
        Op::new("admin", "updateCredential", "Replace a micro-credential's definition")
            .describe(&format!(
                "TOML: a catalogue with exactly this one micro-credential. JSON: the definition object. The \
                 slug cannot change. A changed definition becomes a new version; enrolments keep theirs. \
                 {CATALOGUE_FORMAT}"
            ))
            .text_param("slug", "The micro-credential's slug.")
            .body("The new definition.", catalogue_text_content("MicroCredential"))
            .returns(200, "The micro-credential's current version.", "UpdateResult")
            .errors(&[400, 403, 404, 413, 415]),
    );
    paths.add(
        Put,
        "/api/v1/admin/catalogue/{slug}/archived",
        Op::new("admin", "setArchived", "Archive or restore a micro-credential")
            .describe("An archived micro-credential leaves the catalogue; enrolments and work stay.")
            .text_param("slug", "The micro-credential's slug.")
            .json_body("The new state.", "ArchivedInput")
            .returns(200, "The micro-credential.", "CatalogueItem")
            .errors(&[400, 403, 404, 415]),
    );
    paths.add(
        Get,
        "/api/v1/admin/ceu-report",
        Op::new("admin", "getCeuReport", "Earned micro-credentials and CEUs across the platform's courses")
            .returns(200, "The report, oldest award first.", "CeuReport")
            .errors(&[403]),
    );
    paths.add(
        Get,
        "/api/v1/admin/ceu-report.csv",
        Op::new("admin", "getCeuReportCsv", "The CEU report as CSV")
            .describe(
                "Columns: participant, email, micro_credential, slug, version, course, ceus, earned_at. Values \
                 that a spreadsheet would read as a formula start with an apostrophe.",
            )
            .respond(200, "The CSV file.", Some(json!({"text/csv": {"schema": {"type": "string"}}})))
            .errors(&[403]),
    );
    paths.add(
        Get,
        "/api/v1/admin/audit",
        Op::new("admin", "listAudit", "The newest audit log entries")
            .query(
                "limit",
                json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                "Number of entries.",
            )
            .returns(200, "The entries, newest first.", "AuditList")
            .errors(&[400, 403]),
    );

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "microcred JSON API",
            "version": "1",
            "description": "Everything the microcred pages do, with the same access rules. Authenticate with \
                the page token of a launch; every successful response carries a fresh token in the \
                `x-session-token` header. Errors are JSON objects with `error`, `message` and `request_id`.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerToken": []}, {"sessionTokenHeader": []}],
        "tags": [
            {"name": "session"}, {"name": "catalogue"}, {"name": "enrolments"}, {"name": "attempts"},
            {"name": "transcript"}, {"name": "assessing"}, {"name": "admin"}, {"name": "meta"},
        ],
        "paths": Value::Object(paths.0),
        "components": components(),
    })
}

fn catalogue_text_content(json_schema: &str) -> Value {
    json!({
        "application/toml": {"schema": {"type": "string"}},
        "application/json": {"schema": schema_ref(json_schema)},
    })
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema_ref("Error")}}})
}

fn nullable(kind: &str) -> Value {
    json!({"type": [kind, "null"]})
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn nullable_timestamp() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

fn list_of(item: &str) -> Value {
    json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": schema_ref(item)}}})
}

fn string_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

fn components() -> Value {
    json!({
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "The page token of a launch (`_s` of the page URL), or the latest `x-session-token`.",
            },
            "sessionTokenHeader": {"type": "apiKey", "in": "header", "name": "x-session-token"},
        },
        "headers": {
            "SessionToken": {"description": "A fresh page token for the next request.", "schema": {"type": "string"}},
            "SessionTokenExpiresAt": {"description": "When that token stops working.", "schema": timestamp()},
        },
        "responses": {
            "BadRequest": error_response(
                "The request is invalid. `problems` lists each broken rule; for a body that is not the \
                 expected JSON, `field` names the wrong field."),
            "Unauthorized": error_response("No live session: the token is missing, expired or forged. Launch again from the course."),
            "Forbidden": error_response(
                "The session's roles do not allow this, or a write came without a token (a cookie alone is not enough)."),
            "NotFound": error_response("Nothing with this id that the signed-in user may see."),
            "Conflict": error_response("The state changed first: the attempt is no longer a draft, or another assessment stands."),
            "TooLarge": error_response("The upload or body is over the configured limit."),
            "UnsupportedMediaType": error_response("The body's Content-Type is not one the endpoint reads."),
            "Internal": error_response("An error in microcred; the log has the details under `request_id`."),
        },
        "schemas": schemas(),
    })
}

/// Builds the schemas of errors, the session and the catalogue, then adds the others.
fn schemas() -> Value {
    // One `json!` per schema: a single literal would exceed the macro recursion limit.
    let mut schemas = Map::new();
    schemas.insert("Error".into(), json!({
            "type": "object",
            "required": ["error", "message", "request_id"],
            "properties": {
                "error": {"type": "string", "description": "Stable code, e.g. `bad_request`, `invalid_body`, `forbidden`, `not_found`, `conflict`."},
                "message": {"type": "string", "description": "What went wrong and what to do next."},
                "request_id": {"type": "string"},
                "problems": {"type": "array", "items": {"type": "string"}, "description": "Each broken rule (validation errors)."},
                "field": {"type": ["string", "null"], "description": "The JSON field that could not be read (`invalid_body`)."},
                "reason": {"type": ["string", "null"]},
                "admin_hint": {"type": ["string", "null"]},
            },
        }));
    schemas.insert("Session".into(), json!({
            "type": "object",
            "properties": {
                "user": {"type": "object", "properties": {"id": {"type": "integer"}, "name": nullable("string"), "email": nullable("string")}},
                "course": {
                    "type": ["object", "null"],
                    "properties": {"id": {"type": "string", "description": "The LTI context id."}, "label": nullable("string"), "title": nullable("string")},
                },
                "roles": {"type": "array", "items": {"enum": ["participant", "assessor", "admin"]}},
                "primary_role": {"enum": ["participant", "assessor", "admin"]},
                "primary_role_label": {"type": "string"},
                "token": {"type": "string"},
                "token_expires_at": timestamp(),
                "session_expires_at": timestamp(),
            },
        }));
    schemas.insert(
        "CatalogueItem".into(),
        json!({
            "type": "object",
            "properties": {
                "slug": {"type": "string"}, "title": {"type": "string"},
                "status": {"enum": ["active", "archived"]}, "version": {"type": "integer"},
                "competency": {"type": "string"}, "ceus": {"type": "number"}, "estimated_hours": {"type": "integer"},
                "component_count": {"type": "integer"},
                "course": {"oneOf": [schema_ref("LearningCourse"), {"type": "null"}]},
            },
        }),
    );
    schemas.insert("CatalogueList".into(), list_of("CatalogueItem"));
    schemas.insert(
        "Credential".into(),
        json!({
            "type": "object",
            "properties": {
                "slug": {"type": "string"}, "status": {"enum": ["active", "archived"]}, "version": {"type": "integer"},
                "definition": schema_ref("MicroCredential"),
            },
        }),
    );
    schemas.insert(
        "Catalogue".into(),
        json!({
            "type": "object",
            "properties": {"micro_credential": {"type": "array", "items": schema_ref("MicroCredential")}},
        }),
    );
    schemas.insert(
        "MicroCredential".into(),
        json!({
            "type": "object",
            "description": CATALOGUE_FORMAT,
            "required": ["slug", "title", "competency", "key_method", "research", "self_check", "component"],
            "properties": {
                "slug": {"type": "string"}, "title": {"type": "string"},
                "competency": {"type": "string"}, "key_method": {"type": "string"},
                "research": {"type": "object", "properties": {
                    "summary": {"type": "string"},
                    "citation": {"type": "array", "items": {"type": "object", "properties": {
                        "authors": {"type": "string"}, "year": {"type": "integer"},
                        "title": {"type": "string"}, "venue": {"type": "string"}}}},
                }},
                "self_check": {"type": "array", "items": {"type": "object", "properties": {
                    "key": {"type": "string"}, "statement": {"type": "string"}}}},
                "course": schema_ref("LearningCourse"),
                "ceus": {"type": "number", "default": 2.0},
                "estimated_hours": {"type": "integer", "default": 20},
                "component": {"type": "array", "items": schema_ref("Component"), "minItems": 5, "maxItems": 5},
            },
        }),
    );
    schemas.insert("LearningCourse".into(), json!({"type": "object", "properties": {"title": {"type": "string"}, "url": {"type": "string", "format": "uri"}}}));
    schemas.insert("Component".into(), json!({
            "type": "object",
            "properties": {
                "key": {"type": "string"}, "title": {"type": "string"}, "prompt": {"type": "string"},
                "submission": {"type": "object", "description": "Accepted parts: `text`, `files`, `links`, `reflection`, each with its limits; an absent part is not accepted.", "properties": {
                    "text": {"type": "object", "properties": {"required": {"type": "boolean"}, "min_words": {"type": "integer"}, "max_words": {"type": "integer"}}},
                    "files": {"type": "object", "properties": {"required": {"type": "boolean"}, "max_count": {"type": "integer"}}},
                    "links": {"type": "object", "properties": {"required": {"type": "boolean"}, "max_count": {"type": "integer"}}},
                    "reflection": {"type": "object", "properties": {"prompt": {"type": "string"}, "required": {"type": "boolean"}, "min_words": {"type": "integer"}, "max_words": {"type": "integer"}}},
                }},
                "rubric": {"type": "object", "properties": {"criterion": {"type": "array", "items": {"type": "object", "properties": {
                    "key": {"type": "string"}, "title": {"type": "string"}, "mastery_level": {"type": "string"},
                    "level": {"type": "array", "description": "Lowest first.", "items": {"type": "object", "properties": {
                        "key": {"type": "string"}, "label": {"type": "string"}, "description": {"type": "string"}}}},
                }}}}},
            },
        }));
    work_schemas(&mut schemas);
    report_schemas(&mut schemas);
    Value::Object(schemas)
}

/// Adds the schemas of enrolments, attempts and files.
fn work_schemas(schemas: &mut Map<String, Value>) {
    schemas.insert("SelfCheckInput".into(), json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"self_check": {"type": "array", "items": {"type": "string"}, "description": "Keys of the ticked statements."}},
        }));
    schemas.insert(
        "Enrollment".into(),
        json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"}, "user_id": {"type": "integer"},
                "credential_slug": {"type": "string"}, "credential_title": {"type": "string"},
                "version": {"type": "integer", "description": "The version the enrolment began with."},
                "enrolled_at": timestamp(),
                "self_check": {"type": "array", "items": {"type": "string"}},
                "earned_at": nullable_timestamp(), "ceus_awarded": nullable("number"),
            },
        }),
    );
    schemas.insert("SelfCheck".into(), json!({
            "type": "object",
            "properties": {
                "ticked": {"type": "array", "items": {"type": "string"}},
                "unticked": {"type": "array", "items": {"type": "string"}},
                "recommend_course": {"type": "boolean", "description": "Prior knowledge may be missing: take the linked course first."},
                "course": {"oneOf": [schema_ref("LearningCourse"), {"type": "null"}]},
            },
        }));
    schemas.insert("Enrolled".into(), json!({"type": "object", "properties": {"enrollment": schema_ref("Enrollment"), "self_check": schema_ref("SelfCheck")}}));
    schemas.insert("Progress".into(), json!({
            "type": "object",
            "properties": {"mastered_count": {"type": "integer"}, "component_count": {"type": "integer"}, "percent_complete": {"type": "integer"}},
        }));
    schemas.insert("EnrollmentList".into(), json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
            "enrollment": schema_ref("Enrollment"), "progress": schema_ref("Progress"), "earned": {"type": "boolean"}}}}}}));
    schemas.insert(
        "AttemptBrief".into(),
        json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"}, "number": {"type": "integer"},
                "status": {"enum": ["draft", "submitted", "assessed"]},
                "created_at": timestamp(), "submitted_at": nullable_timestamp(), "assessed_at": nullable_timestamp(),
                "decision": {"enum": ["mastered", "not_yet_mastered", null]},
            },
        }),
    );
    schemas.insert(
        "Overview".into(),
        json!({
            "type": "object",
            "properties": {
                "enrollment": schema_ref("Enrollment"),
                "progress": schema_ref("Progress"),
                "components": {"type": "array", "items": {"type": "object", "properties": {
                    "key": {"type": "string"}, "title": {"type": "string"},
                    "state": {"enum": ["not_started", "draft", "submitted", "not_yet_mastered", "mastered"]},
                    "state_label": {"type": "string"},
                    "attempts": {"type": "array", "items": schema_ref("AttemptBrief")},
                }}},
                "earned": {"type": "boolean"}, "earned_at": nullable_timestamp(), "ceus": nullable("number"),
                "self_check": schema_ref("SelfCheck"),
                "definition": schema_ref("MicroCredential"),
            },
        }),
    );
    schemas.insert(
        "Attempt".into(),
        json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"}, "enrollment_id": {"type": "integer"}, "component_key": {"type": "string"},
                "number": {"type": "integer"}, "status": {"enum": ["draft", "submitted", "assessed"]},
                "text": {"type": "string"}, "reflection": {"type": "string"},
                "links": {"type": "array", "items": {"type": "string"}},
                "created_at": timestamp(), "updated_at": timestamp(),
                "submitted_at": nullable_timestamp(), "assessed_at": nullable_timestamp(),
                "decision": {"enum": ["mastered", "not_yet_mastered", null]},
                "revision": {"type": "integer", "description": "Incremented by every draft save."},
            },
        }),
    );
    schemas.insert("File".into(), json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"}, "attempt_id": {"type": "integer"}, "name": {"type": "string"},
                "content_type": {"type": "string"}, "size_bytes": {"type": "integer"}, "sha256": {"type": "string"},
                "created_at": timestamp(), "download": {"type": "string", "description": "Path of the download endpoint."},
            },
        }));
    schemas.insert(
        "Assessment".into(),
        json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"}, "attempt_id": {"type": "integer"}, "assessor_user_id": {"type": "integer"},
                "ratings": string_map(), "feedback": string_map(), "overall_comment": {"type": "string"},
                "decision": {"enum": ["mastered", "not_yet_mastered"]}, "created_at": timestamp(),
            },
        }),
    );
    schemas.insert("AttemptDetail".into(), json!({
            "type": "object",
            "properties": {
                "attempt": schema_ref("Attempt"),
                "files": {"type": "array", "items": schema_ref("File")},
                "assessment": {"oneOf": [schema_ref("Assessment"), {"type": "null"}]},
                "participant_user_id": {"type": "integer"},
                "credential_slug": {"type": "string"}, "credential_title": {"type": "string"}, "version": {"type": "integer"},
                "component": {"oneOf": [schema_ref("Component"), {"type": "null"}]},
            },
        }));
    schemas.insert(
        "DraftInput".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "description": "A field left out keeps its saved value.",
            "properties": {
                "text": {"type": "string"}, "reflection": {"type": "string"},
                "links": {"type": "array", "items": {"type": "string", "format": "uri"}},
            },
        }),
    );
}

/// Adds the schemas of assessing, reports and catalogue administration.
fn report_schemas(schemas: &mut Map<String, Value>) {
    schemas.insert(
        "QueueItem".into(),
        json!({
            "type": "object",
            "properties": {
                "attempt_id": {"type": "integer"}, "participant": {"type": "string"},
                "credential_slug": {"type": "string"}, "credential_title": {"type": "string"},
                "component_key": {"type": "string"}, "component_title": {"type": "string"},
                "number": {"type": "integer"}, "submitted_at": timestamp(),
                "waiting": {"type": "string", "description": "How long it has waited, in words."},
            },
        }),
    );
    schemas.insert("Queue".into(), list_of("QueueItem"));
    schemas.insert("AssessmentInput".into(), json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["ratings"],
            "properties": {
                "ratings": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Level key per criterion key, for every criterion."},
                "feedback": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Required for each criterion rated below mastery."},
                "overall_comment": {"type": "string"},
            },
        }));
    schemas.insert("AssessmentResult".into(), json!({
            "type": "object",
            "properties": {
                "decision": {"enum": ["mastered", "not_yet_mastered"]},
                "mastered": {"type": "boolean"},
                "shortfalls": {"type": "array", "items": {"type": "string"}, "description": "Criteria rated below mastery."},
                "progress": schema_ref("Progress"),
                "earned": {"type": "boolean", "description": "This assessment completed the micro-credential."},
                "assessment": schema_ref("Assessment"),
            },
        }));
    schemas.insert("ParticipantHistory".into(), json!({
            "type": "object",
            "properties": {
                "participant": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "email": nullable("string")}},
                "enrollments": {"type": "array", "items": schema_ref("Overview")},
            },
        }));
    schemas.insert(
        "EarnedRow".into(),
        json!({
            "type": "object",
            "properties": {
                "enrollment_id": {"type": "integer"}, "user_id": {"type": "integer"},
                "participant": {"type": "string"}, "email": nullable("string"),
                "credential_slug": {"type": "string"}, "credential_title": {"type": "string"},
                "version": {"type": "integer"}, "course": {"type": "string"},
                "ceus": {"type": "number"}, "earned_at": timestamp(),
            },
        }),
    );
    schemas.insert("Transcript".into(), json!({
            "type": "object",
            "properties": {"items": {"type": "array", "items": schema_ref("EarnedRow")}, "total_ceus": {"type": "number"}},
        }));
    schemas.insert("CeuReport".into(), json!({
            "type": "object",
            "properties": {"items": {"type": "array", "items": schema_ref("EarnedRow")}, "total_ceus": {"type": "number"}},
        }));
    schemas.insert(
        "ImportReport".into(),
        json!({
            "type": "object",
            "properties": {
                "created": {"type": "array", "items": {"type": "string"}},
                "new_versions": {"type": "array", "items": {"type": "string"}},
                "unchanged": {"type": "array", "items": {"type": "string"}},
            },
        }),
    );
    schemas.insert(
        "UpdateResult".into(),
        json!({
            "type": "object",
            "properties": {
                "changed": {"type": "boolean", "description": "Whether the text added a version."},
                "slug": {"type": "string"}, "status": {"enum": ["active", "archived"]}, "version": {"type": "integer"},
            },
        }),
    );
    schemas.insert(
        "ArchivedInput".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["archived"],
            "properties": {"archived": {"type": "boolean"}},
        }),
    );
    schemas.insert(
        "AuditEntry".into(),
        json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"}, "at": timestamp(), "actor_user_id": nullable("integer"),
                "action": {"type": "string"}, "subject_type": {"type": "string"}, "subject_id": {"type": "integer"},
                "context_pk": nullable("integer"), "detail": {"type": "object"},
            },
        }),
    );
    schemas.insert("AuditList".into(), list_of("AuditEntry"));
}
