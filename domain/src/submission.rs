//! Submission requirements of a component, and the checks on an educator's submission.
//!
//! A draft is checked only against the hard size bounds in [`crate::limits`], so an
//! educator can save anything in progress. A submission is checked against the
//! component's requirements as well: required parts present, word limits, link syntax
//! and count limits.
//!
//! Words are counted by [`count_words`].

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use url::Url;

use crate::limits::{MAX_ITEM_COUNT, MAX_SUBMISSION_TEXT_CHARS, MAX_URL_CHARS};

/// Parts of a submission that one component accepts, with their limits. A part that is
/// absent is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequirements {
    /// Written text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextRequirement>,
    /// Uploaded files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<FileRequirement>,
    /// Links to evidence held elsewhere, such as a video or a shared document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<LinkRequirement>,
    /// A reflection answering its own prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflection: Option<ReflectionRequirement>,
}

/// Requirements on the written text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextRequirement {
    /// Whether the text must be present at submit time.
    #[serde(default = "default_required")]
    pub required: bool,
    /// Minimum number of words, checked when text is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_words: Option<u32>,
    /// Maximum number of words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_words: Option<u32>,
}

/// Requirements on uploaded files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRequirement {
    /// Whether at least one file must be attached at submit time.
    #[serde(default = "default_required")]
    pub required: bool,
    /// Maximum number of files.
    pub max_count: u32,
}

/// Requirements on links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequirement {
    /// Whether at least one link must be given at submit time.
    #[serde(default = "default_required")]
    pub required: bool,
    /// Maximum number of links.
    pub max_count: u32,
}

/// Requirements on the reflection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReflectionRequirement {
    /// Question the reflection answers.
    pub prompt: String,
    /// Whether the reflection must be present at submit time.
    #[serde(default = "default_required")]
    pub required: bool,
    /// Minimum number of words, checked when a reflection is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_words: Option<u32>,
    /// Maximum number of words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_words: Option<u32>,
}

fn default_required() -> bool {
    true
}

/// The content of one attempt, as the educator entered it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Submission {
    /// Written text; blank when none.
    pub text: String,
    /// Reflection; blank when none.
    pub reflection: String,
    /// Number of attached files.
    pub file_count: u32,
    /// Links as entered, one per entry. A blank entry is reported as an invalid link at
    /// submit time, so drop empty form fields before checking.
    pub links: Vec<String>,
}

/// A part of a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The written text.
    Text,
    /// The reflection.
    Reflection,
    /// The attached files.
    Files,
    /// The links.
    Links,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Text => "text",
            Part::Reflection => "reflection",
            Part::Files => "files",
            Part::Links => "links",
        })
    }
}

/// Reason a link is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkProblem {
    /// The entry is blank.
    Empty,
    /// The link has no scheme, such as `example.org/video`.
    NotAbsolute,
    /// The link could not be parsed. Contains the parser's error message.
    Unparsable(String),
    /// The scheme is not http or https, such as `javascript:` or `data:`.
    UnsupportedScheme(String),
    /// The link names no host.
    MissingHost,
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkProblem::Empty => write!(f, "it is empty"),
            LinkProblem::NotAbsolute => write!(f, "it does not start with http:// or https://"),
            LinkProblem::Unparsable(reason) => write!(f, "it is not a valid URL ({reason})"),
            LinkProblem::UnsupportedScheme(scheme) => write!(
                f,
                "its scheme is \"{scheme}\", but only http and https are accepted"
            ),
            LinkProblem::MissingHost => write!(f, "it names no host"),
        }
    }
}

/// One reason a draft cannot be saved or a submission cannot be submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionProblem {
    /// The text or reflection is over the hard size bound.
    TooLong {
        /// [`Part::Text`] or [`Part::Reflection`].
        part: Part,
        /// Length in characters.
        chars: usize,
        /// Maximum length.
        max: usize,
    },
    /// A part is given that the component does not accept.
    NotAccepted {
        /// The part.
        part: Part,
    },
    /// A required part is blank or has no items.
    Missing {
        /// The part.
        part: Part,
    },
    /// The text or reflection has fewer words than the minimum.
    TooFewWords {
        /// [`Part::Text`] or [`Part::Reflection`].
        part: Part,
        /// Words counted.
        words: usize,
        /// Minimum.
        min: u32,
    },
    /// The text or reflection has more words than the maximum.
    TooManyWords {
        /// [`Part::Text`] or [`Part::Reflection`].
        part: Part,
        /// Words counted.
        words: usize,
        /// Maximum.
        max: u32,
    },
    /// More files or links than allowed.
    TooMany {
        /// [`Part::Files`] or [`Part::Links`].
        part: Part,
        /// Number given.
        count: usize,
        /// Maximum.
        max: u32,
    },
    /// A link is longer than [`MAX_URL_CHARS`].
    LinkTooLong {
        /// Position of the link, starting at 1.
        position: usize,
        /// Length in characters.
        chars: usize,
        /// Maximum length.
        max: usize,
    },
    /// A link is not an absolute http or https URL.
    InvalidLink {
        /// Position of the link, starting at 1.
        position: usize,
        /// The link as entered.
        link: String,
        /// Reason for the rejection.
        reason: LinkProblem,
    },
}

impl fmt::Display for SubmissionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmissionProblem::TooLong { part, chars, max } => write!(
                f,
                "the {part} has {chars} characters, more than the maximum of {max}: shorten it"
            ),
            SubmissionProblem::NotAccepted { part } => {
                write!(f, "this component does not accept {}: remove {}", part_noun(*part), part_pronoun(*part))
            }
            SubmissionProblem::Missing { part } => match part {
                Part::Text => write!(f, "the text is missing: write the text this component asks for"),
                Part::Reflection => write!(f, "the reflection is missing: answer the reflection prompt"),
                Part::Files => write!(f, "no file is attached: attach at least one file"),
                Part::Links => write!(f, "no link is given: add at least one link"),
            },
            SubmissionProblem::TooFewWords { part, words, min } => write!(
                f,
                "the {part} has {words} words, fewer than the minimum of {min}: add at least {} more",
                u64::from(*min).saturating_sub(*words as u64)
            ),
            SubmissionProblem::TooManyWords { part, words, max } => write!(
                f,
                "the {part} has {words} words, more than the maximum of {max}: remove at least {}",
                (*words as u64).saturating_sub(u64::from(*max))
            ),
            SubmissionProblem::TooMany { part, count, max } => write!(
                f,
                "{count} {part} are given, more than the maximum of {max}: remove at least {}",
                (*count as u64).saturating_sub(u64::from(*max))
            ),
            SubmissionProblem::LinkTooLong {
                position,
                chars,
                max,
            } => write!(
                f,
                "link {position} has {chars} characters, more than the maximum of {max}: use a shorter address"
            ),
            SubmissionProblem::InvalidLink {
                position,
                link,
                reason,
            } => write!(
                f,
                "link {position} (\"{}\") is invalid because {reason}: enter the full address of a web page, starting with https://",
                shorten_for_message(link)
            ),
        }
    }
}

impl std::error::Error for SubmissionProblem {}

fn part_noun(part: Part) -> &'static str {
    match part {
        Part::Text => "text",
        Part::Reflection => "a reflection",
        Part::Files => "files",
        Part::Links => "links",
    }
}

fn part_pronoun(part: Part) -> &'static str {
    match part {
        Part::Text | Part::Reflection => "it",
        Part::Files | Part::Links => "them",
    }
}

/// Shortens a link for a message, so a long link does not swamp the text.
fn shorten_for_message(link: &str) -> String {
    const SHOWN_CHARS: usize = 80;
    if link.chars().count() <= SHOWN_CHARS {
        link.to_owned()
    } else {
        let start: String = link.chars().take(SHOWN_CHARS).collect();
        format!("{start}…")
    }
}

/// Every problem found in a draft or submission; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct SubmissionError {
    /// The problems, in the order text, reflection, files, links.
    pub problems: Vec<SubmissionProblem>,
}

impl fmt::Display for SubmissionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the submission cannot be accepted:")?;
        for problem in &self.problems {
            write!(f, "\n- {problem}")?;
        }
        Ok(())
    }
}

/// Counts the words in a text.
///
/// A word is a run of characters between Unicode whitespace that contains at least one
/// letter or digit (`char::is_alphanumeric`). So `K-12`, `don't`, `3.5` and a URL each count
/// as one word, and a lone dash, bullet or emoji counts as none.
pub fn count_words(text: &str) -> usize {
    text.split_whitespace()
        .filter(|token| token.chars().any(char::is_alphanumeric))
        .count()
}

impl SubmissionRequirements {
    /// Checks a draft: only the hard size bounds in [`crate::limits`] apply.
    pub fn check_draft(&self, submission: &Submission) -> Result<(), SubmissionError> {
        let mut problems = Vec::new();
        check_text_size(Part::Text, &submission.text, &mut problems);
        check_text_size(Part::Reflection, &submission.reflection, &mut problems);
        check_count(
            Part::Files,
            submission.file_count as usize,
            MAX_ITEM_COUNT,
            &mut problems,
        );
        check_count(
            Part::Links,
            submission.links.len(),
            MAX_ITEM_COUNT,
            &mut problems,
        );
        check_link_lengths(&submission.links, &mut problems);
        into_result(problems)
    }

    /// Checks a submission at submit time: the hard size bounds, parts the component does
    /// not accept, required parts, word limits, count limits and link syntax.
    ///
    /// Text and reflections count as present when they are not blank. Word minimums apply
    /// only to a part that is present, so an optional part may be left blank.
    pub fn check_submit(&self, submission: &Submission) -> Result<(), SubmissionError> {
        let mut problems = Vec::new();

        check_text_size(Part::Text, &submission.text, &mut problems);
        let text_limits = self
            .text
            .as_ref()
            .map(|text| (text.required, text.min_words, text.max_words));
        check_words(Part::Text, &submission.text, text_limits, &mut problems);

        check_text_size(Part::Reflection, &submission.reflection, &mut problems);
        let reflection_limits = self.reflection.as_ref().map(|reflection| {
            (
                reflection.required,
                reflection.min_words,
                reflection.max_words,
            )
        });
        check_words(
            Part::Reflection,
            &submission.reflection,
            reflection_limits,
            &mut problems,
        );

        let file_limits = self
            .files
            .as_ref()
            .map(|files| (files.required, files.max_count));
        check_items(
            Part::Files,
            submission.file_count as usize,
            file_limits,
            &mut problems,
        );

        let link_limits = self
            .links
            .as_ref()
            .map(|links| (links.required, links.max_count));
        let links_accepted = link_limits.is_some();
        check_items(
            Part::Links,
            submission.links.len(),
            link_limits,
            &mut problems,
        );
        if links_accepted {
            check_link_lengths(&submission.links, &mut problems);
            check_link_syntax(&submission.links, &mut problems);
        }

        into_result(problems)
    }
}

fn into_result(problems: Vec<SubmissionProblem>) -> Result<(), SubmissionError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SubmissionError { problems })
    }
}

fn check_text_size(part: Part, text: &str, problems: &mut Vec<SubmissionProblem>) {
    let chars = text.chars().count();
    if chars > MAX_SUBMISSION_TEXT_CHARS {
        problems.push(SubmissionProblem::TooLong {
            part,
            chars,
            max: MAX_SUBMISSION_TEXT_CHARS,
        });
    }
}

fn check_count(part: Part, count: usize, max: u32, problems: &mut Vec<SubmissionProblem>) {
    if count > max as usize {
        problems.push(SubmissionProblem::TooMany { part, count, max });
    }
}

/// Checks a text part against `(required, min_words, max_words)`, or against "not
/// accepted" when the component has no such part.
fn check_words(
    part: Part,
    text: &str,
    limits: Option<(bool, Option<u32>, Option<u32>)>,
    problems: &mut Vec<SubmissionProblem>,
) {
    let present = !text.trim().is_empty();
    let Some((required, min_words, max_words)) = limits else {
        if present {
            problems.push(SubmissionProblem::NotAccepted { part });
        }
        return;
    };
    if !present {
        if required {
            problems.push(SubmissionProblem::Missing { part });
        }
        return;
    }
    let words = count_words(text);
    if let Some(min) = min_words {
        if words < min as usize {
            problems.push(SubmissionProblem::TooFewWords { part, words, min });
        }
    }
    if let Some(max) = max_words {
        if words > max as usize {
            problems.push(SubmissionProblem::TooManyWords { part, words, max });
        }
    }
}

/// Checks a counted part against `(required, max_count)`, or against "not accepted" when
/// the component has no such part.
fn check_items(
    part: Part,
    count: usize,
    limits: Option<(bool, u32)>,
    problems: &mut Vec<SubmissionProblem>,
) {
    let Some((required, max_count)) = limits else {
        if count > 0 {
            problems.push(SubmissionProblem::NotAccepted { part });
        }
        return;
    };
    if count == 0 && required {
        problems.push(SubmissionProblem::Missing { part });
    }
    check_count(part, count, max_count.min(MAX_ITEM_COUNT), problems);
}

fn check_link_lengths(links: &[String], problems: &mut Vec<SubmissionProblem>) {
    for (index, link) in links.iter().enumerate() {
        let chars = link.chars().count();
        if chars > MAX_URL_CHARS {
            problems.push(SubmissionProblem::LinkTooLong {
                position: index + 1,
                chars,
                max: MAX_URL_CHARS,
            });
        }
    }
}

fn check_link_syntax(links: &[String], problems: &mut Vec<SubmissionProblem>) {
    for (index, link) in links.iter().enumerate() {
        if link.chars().count() > MAX_URL_CHARS {
            continue;
        }
        if let Err(reason) = check_web_url(link) {
            problems.push(SubmissionProblem::InvalidLink {
                position: index + 1,
                link: link.clone(),
                reason,
            });
        }
    }
}

/// Accepts an absolute http or https URL with a host; leading and trailing whitespace is
/// ignored.
pub(crate) fn check_web_url(link: &str) -> Result<Url, LinkProblem> {
    let link = link.trim();
    if link.is_empty() {
        return Err(LinkProblem::Empty);
    }
    let url = match Url::parse(link) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(LinkProblem::NotAbsolute),
        Err(error) => return Err(LinkProblem::Unparsable(error.to_string())),
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(LinkProblem::UnsupportedScheme(url.scheme().to_owned()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(LinkProblem::MissingHost);
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
