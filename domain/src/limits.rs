//! Size limits enforced by the checks in this crate.
//!
//! Lengths are counted in Unicode scalar values (`str::chars`), not bytes. The limits keep
//! definitions, submissions and feedback at sizes that a page can show and a database row
//! can store. They are product choices, not figures from a standard.

/// Number of components every micro-credential has.
pub const COMPONENT_COUNT: usize = 5;

/// Maximum length of a slug or any other key.
pub const MAX_KEY_CHARS: usize = 64;
/// Maximum length of a title, a course title or a level label.
pub const MAX_TITLE_CHARS: usize = 200;
/// Maximum length of a long text field: competency, key method, research summary, prompt.
pub const MAX_STATEMENT_CHARS: usize = 4_000;
/// Maximum length of a rubric level description.
pub const MAX_LEVEL_DESCRIPTION_CHARS: usize = 1_000;
/// Maximum length of a self-check statement.
pub const MAX_SELF_CHECK_CHARS: usize = 300;
/// Maximum length of each citation field (authors, title, venue).
pub const MAX_CITATION_FIELD_CHARS: usize = 500;
/// Maximum length of a URL, in a definition or a submission.
pub const MAX_URL_CHARS: usize = 2_048;

/// Maximum number of citations in a research basis.
pub const MAX_CITATIONS: usize = 20;
/// Maximum number of self-check items.
pub const MAX_SELF_CHECK_ITEMS: usize = 10;
/// Maximum number of criteria in one rubric.
pub const MAX_CRITERIA: usize = 10;
/// Minimum number of levels in one criterion.
pub const MIN_LEVELS: usize = 2;
/// Maximum number of levels in one criterion.
pub const MAX_LEVELS: usize = 6;

/// Earliest citation year accepted.
pub const MIN_CITATION_YEAR: u16 = 1800;
/// Latest citation year accepted.
pub const MAX_CITATION_YEAR: u16 = 2100;

/// Maximum CEUs of one micro-credential (the minimum is anything above zero).
pub const MAX_CEUS: f64 = 100.0;
/// CEUs when a definition does not set them: 2.0, about 20 hours of work.
pub const DEFAULT_CEUS: f64 = 2.0;
/// Estimated hours when a definition does not set them.
pub const DEFAULT_ESTIMATED_HOURS: u32 = 20;
/// Maximum estimated hours of one micro-credential.
pub const MAX_ESTIMATED_HOURS: u32 = 500;

/// Maximum word limit a definition may set for a text or a reflection.
pub const MAX_WORD_LIMIT: u32 = 10_000;
/// Maximum `max_count` a definition may set for files or links.
pub const MAX_ITEM_COUNT: u32 = 20;

/// Maximum length of a submission's text or reflection, drafts included.
pub const MAX_SUBMISSION_TEXT_CHARS: usize = 100_000;

/// Maximum length of the feedback on one criterion.
pub const MAX_FEEDBACK_CHARS: usize = 5_000;
/// Maximum length of an assessor's overall comment.
pub const MAX_COMMENT_CHARS: usize = 10_000;
