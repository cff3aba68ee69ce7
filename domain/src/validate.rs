//! Rules a micro-credential definition must follow.
//!
//! Every check runs, so one pass reports every problem. Each [`Problem`] has a path from
//! the catalogue root, such as
//! `micro_credential "exit-tickets" > component "plan" > rubric > criterion "alignment"`,
//! where an element without a usable key is named by position (`component #3`).
//! Size limits come from [`crate::limits`].

use std::collections::BTreeSet;

use crate::catalogue::{
    Catalogue, Citation, Component, LearningCourse, MicroCredential, ResearchBasis, SelfCheckItem,
};
use crate::error::Problem;
use crate::limits::{
    COMPONENT_COUNT, MAX_CEUS, MAX_CITATIONS, MAX_CITATION_FIELD_CHARS, MAX_CITATION_YEAR,
    MAX_CRITERIA, MAX_ESTIMATED_HOURS, MAX_ITEM_COUNT, MAX_KEY_CHARS, MAX_LEVELS,
    MAX_LEVEL_DESCRIPTION_CHARS, MAX_SELF_CHECK_CHARS, MAX_SELF_CHECK_ITEMS, MAX_STATEMENT_CHARS,
    MAX_TITLE_CHARS, MAX_URL_CHARS, MAX_WORD_LIMIT, MIN_CITATION_YEAR, MIN_LEVELS,
};
use crate::rubric::{Criterion, Rubric};
use crate::submission::{check_web_url, SubmissionRequirements};

/// Collects problems while walking a definition.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, path: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Problem {
            path: path.to_owned(),
            message: message.into(),
            fix: fix.into(),
        });
    }
}

/// Returns every problem in a catalogue, slugs unique across it included.
pub(crate) fn catalogue_problems(catalogue: &Catalogue) -> Vec<Problem> {
    let mut problems = Problems::default();
    if catalogue.micro_credentials.is_empty() {
        problems.push(
            "",
            "the catalogue has no micro-credentials",
            "add at least one [[micro_credential]] table",
        );
    }
    for (index, credential) in catalogue.micro_credentials.iter().enumerate() {
        problems
            .0
            .extend(micro_credential_problems(credential, index));
    }
    let slugs = catalogue
        .micro_credentials
        .iter()
        .map(|credential| credential.slug.as_str());
    for slug in duplicates(slugs) {
        problems.push(
            &format!("micro_credential \"{slug}\""),
            format!("slug \"{slug}\" is used by more than one micro-credential"),
            "give each micro-credential its own slug",
        );
    }
    problems.0
}

/// Returns every problem in one definition. `index` names it when its slug is empty.
pub(crate) fn micro_credential_problems(
    credential: &MicroCredential,
    index: usize,
) -> Vec<Problem> {
    let mut problems = Problems::default();
    let path = named("micro_credential", &credential.slug, index);

    check_key(&mut problems, &path, "slug", &credential.slug);
    check_text(
        &mut problems,
        &path,
        "title",
        &credential.title,
        MAX_TITLE_CHARS,
    );
    check_text(
        &mut problems,
        &path,
        "competency",
        &credential.competency,
        MAX_STATEMENT_CHARS,
    );
    check_text(
        &mut problems,
        &path,
        "key_method",
        &credential.key_method,
        MAX_STATEMENT_CHARS,
    );
    check_research(
        &mut problems,
        &child(&path, "research"),
        &credential.research,
    );
    check_self_check(&mut problems, &path, &credential.self_check_items);
    if let Some(course) = &credential.course {
        check_course(&mut problems, &child(&path, "course"), course);
    }
    check_ceus(&mut problems, &path, credential.ceus);
    check_estimated_hours(&mut problems, &path, credential.estimated_hours);

    let count = credential.components.len();
    if count != COMPONENT_COUNT {
        problems.push(
            &path,
            format!("it has {}, but a micro-credential needs exactly {COMPONENT_COUNT}", counted(count, "component")),
            format!("add or remove [[micro_credential.component]] tables so there are exactly {COMPONENT_COUNT}"),
        );
    }
    for (position, component) in credential.components.iter().enumerate() {
        check_component(&mut problems, &path, component, position);
    }
    let keys = credential
        .components
        .iter()
        .map(|component| component.key.as_str());
    for key in duplicates(keys) {
        problems.push(
            &path,
            format!("component key \"{key}\" is used by more than one component"),
            "give each component its own key",
        );
    }
    problems.0
}

fn check_research(problems: &mut Problems, path: &str, research: &ResearchBasis) {
    check_text(
        problems,
        path,
        "summary",
        &research.summary,
        MAX_STATEMENT_CHARS,
    );
    let count = research.citations.len();
    if count == 0 {
        problems.push(
            path,
            "it has no citations",
            "add at least one [[micro_credential.research.citation]] table",
        );
    } else if count > MAX_CITATIONS {
        problems.push(
            path,
            format!(
                "it has {}, more than the maximum of {MAX_CITATIONS}",
                counted(count, "citation")
            ),
            "keep the most relevant citations",
        );
    }
    for (index, citation) in research.citations.iter().enumerate() {
        let citation_path = child(path, &format!("citation #{}", index + 1));
        check_citation(problems, &citation_path, citation);
    }
}

fn check_citation(problems: &mut Problems, path: &str, citation: &Citation) {
    check_text(
        problems,
        path,
        "authors",
        &citation.authors,
        MAX_CITATION_FIELD_CHARS,
    );
    check_text(
        problems,
        path,
        "title",
        &citation.title,
        MAX_CITATION_FIELD_CHARS,
    );
    check_text(
        problems,
        path,
        "venue",
        &citation.venue,
        MAX_CITATION_FIELD_CHARS,
    );
    if !(MIN_CITATION_YEAR..=MAX_CITATION_YEAR).contains(&citation.year) {
        problems.push(
            path,
            format!("year {} is out of range", citation.year),
            format!(
                "give the year of publication, between {MIN_CITATION_YEAR} and {MAX_CITATION_YEAR}"
            ),
        );
    }
}

fn check_self_check(problems: &mut Problems, path: &str, items: &[SelfCheckItem]) {
    let count = items.len();
    if count == 0 {
        problems.push(
            path,
            "self_check has no items",
            format!("add 1 to {MAX_SELF_CHECK_ITEMS} [[micro_credential.self_check]] statements of prior knowledge"),
        );
    } else if count > MAX_SELF_CHECK_ITEMS {
        problems.push(
            path,
            format!(
                "self_check has {}, more than the maximum of {MAX_SELF_CHECK_ITEMS}",
                counted(count, "item")
            ),
            "keep the statements that matter most, or merge related ones",
        );
    }
    for (index, item) in items.iter().enumerate() {
        let item_path = child(path, &named("self_check", &item.key, index));
        check_key(problems, &item_path, "key", &item.key);
        check_text(
            problems,
            &item_path,
            "statement",
            &item.statement,
            MAX_SELF_CHECK_CHARS,
        );
    }
    for key in duplicates(items.iter().map(|item| item.key.as_str())) {
        problems.push(
            path,
            format!("self-check key \"{key}\" is used by more than one item"),
            "give each self-check item its own key",
        );
    }
}

fn check_course(problems: &mut Problems, path: &str, course: &LearningCourse) {
    check_text(problems, path, "title", &course.title, MAX_TITLE_CHARS);
    let chars = course.url.chars().count();
    if chars > MAX_URL_CHARS {
        problems.push(
            path,
            format!("url has {chars} characters, more than the maximum of {MAX_URL_CHARS}"),
            "use a shorter address for the course",
        );
    } else if let Err(reason) = check_web_url(&course.url) {
        problems.push(
            path,
            format!("url \"{}\" is invalid because {reason}", course.url),
            "give the full address of the course page, starting with https://",
        );
    }
}

fn check_ceus(problems: &mut Problems, path: &str, ceus: f64) {
    let fix_range = format!("set ceus to a number above 0 and at most {MAX_CEUS}, such as 2.0");
    if !ceus.is_finite() {
        problems.push(
            path,
            format!("ceus is {ceus}, not a finite number"),
            fix_range,
        );
    } else if ceus <= 0.0 {
        problems.push(
            path,
            format!("ceus is {ceus}, but must be more than 0"),
            fix_range,
        );
    } else if ceus > MAX_CEUS {
        problems.push(
            path,
            format!("ceus is {ceus}, more than the maximum of {MAX_CEUS}"),
            fix_range,
        );
    } else if !has_at_most_two_decimals(ceus) {
        problems.push(
            path,
            format!("ceus is {ceus}, which has more than two decimals"),
            "round ceus to two decimals, such as 2.25",
        );
    }
}

/// Returns whether a CEU value has at most two decimals, allowing for the binary
/// representation of values such as 2.05.
fn has_at_most_two_decimals(value: f64) -> bool {
    let hundredths = value * 100.0;
    (hundredths - hundredths.round()).abs() < 1e-6
}

fn check_estimated_hours(problems: &mut Problems, path: &str, hours: u32) {
    if hours == 0 {
        problems.push(
            path,
            "estimated_hours is 0, but must be at least 1",
            "set estimated_hours to the hours an educator typically needs, such as 20",
        );
    } else if hours > MAX_ESTIMATED_HOURS {
        problems.push(
            path,
            format!("estimated_hours is {hours}, more than the maximum of {MAX_ESTIMATED_HOURS}"),
            "split the work into several micro-credentials",
        );
    }
}

fn check_component(problems: &mut Problems, parent: &str, component: &Component, index: usize) {
    let path = child(parent, &named("component", &component.key, index));
    check_key(problems, &path, "key", &component.key);
    check_text(problems, &path, "title", &component.title, MAX_TITLE_CHARS);
    check_text(
        problems,
        &path,
        "prompt",
        &component.prompt,
        MAX_STATEMENT_CHARS,
    );
    check_submission(problems, &child(&path, "submission"), &component.submission);
    check_rubric(problems, &child(&path, "rubric"), &component.rubric);
}

fn check_submission(problems: &mut Problems, path: &str, submission: &SubmissionRequirements) {
    let any_required = submission.text.as_ref().is_some_and(|text| text.required)
        || submission
            .files
            .as_ref()
            .is_some_and(|files| files.required)
        || submission
            .links
            .as_ref()
            .is_some_and(|links| links.required)
        || submission
            .reflection
            .as_ref()
            .is_some_and(|reflection| reflection.required);
    if !any_required {
        problems.push(
            path,
            "no part is required, so an empty submission could be submitted",
            "set required = true on at least one of text, files, links or reflection",
        );
    }
    if let Some(text) = &submission.text {
        check_word_limits(
            problems,
            &child(path, "text"),
            text.min_words,
            text.max_words,
        );
    }
    if let Some(reflection) = &submission.reflection {
        let reflection_path = child(path, "reflection");
        check_text(
            problems,
            &reflection_path,
            "prompt",
            &reflection.prompt,
            MAX_STATEMENT_CHARS,
        );
        check_word_limits(
            problems,
            &reflection_path,
            reflection.min_words,
            reflection.max_words,
        );
    }
    if let Some(files) = &submission.files {
        check_max_count(problems, &child(path, "files"), "file", files.max_count);
    }
    if let Some(links) = &submission.links {
        check_max_count(problems, &child(path, "links"), "link", links.max_count);
    }
}

fn check_word_limits(problems: &mut Problems, path: &str, min: Option<u32>, max: Option<u32>) {
    for (name, limit) in [("min_words", min), ("max_words", max)] {
        if let Some(limit) = limit.filter(|limit| *limit > MAX_WORD_LIMIT) {
            problems.push(
                path,
                format!("{name} is {limit}, more than the maximum of {MAX_WORD_LIMIT}"),
                format!("set {name} to at most {MAX_WORD_LIMIT}"),
            );
        }
    }
    if max == Some(0) {
        problems.push(
            path,
            "max_words is 0, so no words could be accepted",
            "set max_words to at least 1, or remove it",
        );
    }
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            problems.push(
                path,
                format!("min_words ({min}) is greater than max_words ({max})"),
                "make min_words at most max_words",
            );
        }
    }
}

fn check_max_count(problems: &mut Problems, path: &str, item: &str, max_count: u32) {
    let fix = format!("set max_count between 1 and {MAX_ITEM_COUNT}, or remove the table");
    if max_count == 0 {
        problems.push(
            path,
            format!("max_count is 0, so no {item} could be given"),
            fix,
        );
    } else if max_count > MAX_ITEM_COUNT {
        problems.push(
            path,
            format!("max_count is {max_count}, more than the maximum of {MAX_ITEM_COUNT}"),
            fix,
        );
    }
}

fn check_rubric(problems: &mut Problems, path: &str, rubric: &Rubric) {
    let count = rubric.criteria.len();
    if count == 0 {
        problems.push(
            path,
            "it has no criteria",
            "add at least one [[micro_credential.component.rubric.criterion]] table",
        );
    } else if count > MAX_CRITERIA {
        problems.push(
            path,
            format!("it has {count} criteria, more than the maximum of {MAX_CRITERIA}"),
            "merge related criteria",
        );
    }
    for (index, criterion) in rubric.criteria.iter().enumerate() {
        check_criterion(
            problems,
            &child(path, &named("criterion", &criterion.key, index)),
            criterion,
        );
    }
    for key in duplicates(
        rubric
            .criteria
            .iter()
            .map(|criterion| criterion.key.as_str()),
    ) {
        problems.push(
            path,
            format!("criterion key \"{key}\" is used by more than one criterion"),
            "give each criterion its own key",
        );
    }
}

fn check_criterion(problems: &mut Problems, path: &str, criterion: &Criterion) {
    check_key(problems, path, "key", &criterion.key);
    check_text(problems, path, "title", &criterion.title, MAX_TITLE_CHARS);

    let count = criterion.levels.len();
    if count < MIN_LEVELS {
        problems.push(
            path,
            format!(
                "it has {}, but a criterion needs at least {MIN_LEVELS}",
                counted(count, "level")
            ),
            "add levels, lowest first, so that work below mastery has a level of its own",
        );
    } else if count > MAX_LEVELS {
        problems.push(
            path,
            format!(
                "it has {}, more than the maximum of {MAX_LEVELS}",
                counted(count, "level")
            ),
            "merge levels that assessors cannot tell apart",
        );
    }
    for (index, level) in criterion.levels.iter().enumerate() {
        let level_path = child(path, &named("level", &level.key, index));
        check_key(problems, &level_path, "key", &level.key);
        check_text(
            problems,
            &level_path,
            "label",
            &level.label,
            MAX_TITLE_CHARS,
        );
        check_text(
            problems,
            &level_path,
            "description",
            &level.description,
            MAX_LEVEL_DESCRIPTION_CHARS,
        );
    }
    for key in duplicates(criterion.levels.iter().map(|level| level.key.as_str())) {
        problems.push(
            path,
            format!("level key \"{key}\" is used by more than one level"),
            "give each level its own key",
        );
    }

    let mastery = &criterion.mastery_level;
    let level_keys: Vec<String> = criterion
        .levels
        .iter()
        .map(|level| format!("\"{}\"", level.key))
        .collect();
    if mastery.trim().is_empty() {
        problems.push(
            path,
            "mastery_level is empty",
            "set mastery_level to the key of the lowest level that counts as mastery",
        );
    } else {
        match criterion.level_position(mastery) {
            None => problems.push(
                path,
                format!("mastery level \"{mastery}\" is not one of its levels"),
                format!("set mastery_level to one of {}", level_keys.join(", ")),
            ),
            Some(0) if count >= MIN_LEVELS => problems.push(
                path,
                format!("mastery level \"{mastery}\" is the lowest level, so every rating would count as mastery"),
                "set mastery_level to a higher level",
            ),
            Some(_) => {}
        }
    }
}

/// Checks a key or slug: lowercase ASCII letters, digits and single hyphens, starting and
/// ending with a letter or digit.
fn check_key(problems: &mut Problems, path: &str, field: &str, key: &str) {
    let chars = key.chars().count();
    if key.is_empty() {
        problems.push(
            path,
            format!("{field} is empty"),
            format!(
                "set {field} to lowercase letters, digits and hyphens, such as \"exit-tickets\""
            ),
        );
    } else if chars > MAX_KEY_CHARS {
        problems.push(
            path,
            format!("{field} has {chars} characters, more than the maximum of {MAX_KEY_CHARS}"),
            format!("shorten the {field}"),
        );
    } else if !is_valid_key(key) {
        problems.push(
            path,
            format!("{field} \"{key}\" is invalid"),
            format!("use only lowercase letters a-z, digits and single hyphens in the {field}, starting and ending with a letter or digit"),
        );
    }
}

fn is_valid_key(key: &str) -> bool {
    let allowed = key
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    allowed && !key.starts_with('-') && !key.ends_with('-') && !key.contains("--")
}

/// Checks a text field that must not be blank and has a maximum length.
fn check_text(problems: &mut Problems, path: &str, field: &str, text: &str, max: usize) {
    let chars = text.chars().count();
    if text.trim().is_empty() {
        problems.push(
            path,
            format!("{field} is empty"),
            format!("write the {field}"),
        );
    } else if chars > max {
        problems.push(
            path,
            format!("{field} has {chars} characters, more than the maximum of {max}"),
            format!("shorten the {field}"),
        );
    }
}

/// Names an element by its key, or by its position from 1 when the key is empty.
fn named(kind: &str, key: &str, index: usize) -> String {
    if key.is_empty() {
        format!("{kind} #{}", index + 1)
    } else {
        format!("{kind} \"{key}\"")
    }
}

/// Formats a count with its noun, such as "1 level" or "3 levels".
fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn child(parent: &str, segment: &str) -> String {
    format!("{parent} > {segment}")
}

/// Returns each non-empty key that occurs more than once, once, in order of its second
/// occurrence.
fn duplicates<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    let mut reported = BTreeSet::new();
    let mut duplicated = Vec::new();
    for key in keys.filter(|key| !key.is_empty()) {
        if !seen.insert(key) && reported.insert(key) {
            duplicated.push(key);
        }
    }
    duplicated
}

#[cfg(test)]
mod tests;
