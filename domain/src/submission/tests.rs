use super::{
    count_words, LinkProblem, Part, Submission, SubmissionProblem, SubmissionRequirements,
};
use crate::test_support::requirements;

/// Returns `count` words, each "word".
fn words(count: usize) -> String {
    vec!["word"; count].join(" ")
}

/// A submission that meets the test requirements: text of 5 to 20 words, a reflection of
/// 3 to 10 words, up to 2 files and up to 2 links.
fn valid() -> Submission {
    Submission {
        text: words(10),
        reflection: words(5),
        file_count: 1,
        links: vec!["https://video.example.org/lesson/1".into()],
    }
}

fn submit_problems(
    requirements: &SubmissionRequirements,
    submission: &Submission,
) -> Vec<SubmissionProblem> {
    match requirements.check_submit(submission) {
        Ok(()) => Vec::new(),
        Err(error) => error.problems,
    }
}

fn draft_problems(submission: &Submission) -> Vec<SubmissionProblem> {
    match requirements().check_draft(submission) {
        Ok(()) => Vec::new(),
        Err(error) => error.problems,
    }
}

fn link_problem(link: &str) -> Vec<SubmissionProblem> {
    let mut submission = valid();
    submission.links = vec![link.into()];
    submit_problems(&requirements(), &submission)
}

// Word counting

#[test]
fn count_words_empty_is_zero() {
    assert_eq!(count_words(""), 0);
}

#[test]
fn count_words_whitespace_only_is_zero() {
    assert_eq!(count_words(" \n\t  "), 0);
}

#[test]
fn count_words_splits_on_any_whitespace() {
    assert_eq!(count_words("one two\nthree\tfour  five"), 5);
}

#[test]
fn count_words_skips_punctuation_only_tokens() {
    assert_eq!(count_words("first - second — third * ... !"), 3);
}

#[test]
fn count_words_joined_tokens_count_once() {
    assert_eq!(count_words("K-12 don't 3.5 well-known e.g."), 5);
}

#[test]
fn count_words_url_counts_once() {
    assert_eq!(count_words("see https://example.org/a/b?c=d"), 2);
}

#[test]
fn count_words_non_ascii_letters_count() {
    assert_eq!(count_words("café naïve Übung 教育"), 4);
}

#[test]
fn count_words_emoji_alone_is_not_a_word() {
    assert_eq!(count_words("great 👍"), 1);
}

// Drafts

#[test]
fn draft_empty_accepted() {
    assert_eq!(draft_problems(&Submission::default()), Vec::new());
}

#[test]
fn draft_below_minimums_accepted() {
    let draft = Submission {
        text: "one".into(),
        reflection: String::new(),
        file_count: 0,
        links: Vec::new(),
    };
    assert_eq!(draft_problems(&draft), Vec::new());
}

#[test]
fn draft_over_word_maximum_accepted() {
    let mut draft = valid();
    draft.text = words(500);
    assert_eq!(draft_problems(&draft), Vec::new());
}

#[test]
fn draft_unfinished_link_accepted() {
    let mut draft = valid();
    draft.links = vec!["https://vid".into(), "javascript:".into(), String::new()];
    assert_eq!(draft_problems(&draft), Vec::new());
}

#[test]
fn draft_text_over_hard_bound_rejected() {
    let mut draft = valid();
    draft.text = "x".repeat(100_001);
    assert_eq!(
        draft_problems(&draft),
        vec![SubmissionProblem::TooLong {
            part: Part::Text,
            chars: 100_001,
            max: 100_000,
        }]
    );
}

#[test]
fn draft_reflection_over_hard_bound_rejected() {
    let mut draft = valid();
    draft.reflection = "x".repeat(100_001);
    assert_eq!(
        draft_problems(&draft),
        vec![SubmissionProblem::TooLong {
            part: Part::Reflection,
            chars: 100_001,
            max: 100_000,
        }]
    );
}

#[test]
fn draft_files_over_hard_bound_rejected() {
    let mut draft = valid();
    draft.file_count = 21;
    assert_eq!(
        draft_problems(&draft),
        vec![SubmissionProblem::TooMany {
            part: Part::Files,
            count: 21,
            max: 20,
        }]
    );
}

#[test]
fn draft_links_over_hard_bound_rejected() {
    let mut draft = valid();
    draft.links = vec!["https://example.org".into(); 21];
    assert_eq!(
        draft_problems(&draft),
        vec![SubmissionProblem::TooMany {
            part: Part::Links,
            count: 21,
            max: 20,
        }]
    );
}

#[test]
fn draft_link_over_hard_bound_rejected() {
    let mut draft = valid();
    draft.links = vec![format!("https://example.org/{}", "a".repeat(2_100))];
    assert_eq!(
        draft_problems(&draft),
        vec![SubmissionProblem::LinkTooLong {
            position: 1,
            chars: 2_120,
            max: 2_048,
        }]
    );
}

// Submissions: text and reflection

#[test]
fn submit_valid_accepted() {
    assert_eq!(submit_problems(&requirements(), &valid()), Vec::new());
}

#[test]
fn submit_word_limits_inclusive() {
    let mut at_min = valid();
    at_min.text = words(5);
    at_min.reflection = words(3);
    assert_eq!(submit_problems(&requirements(), &at_min), Vec::new());

    let mut at_max = valid();
    at_max.text = words(20);
    at_max.reflection = words(10);
    assert_eq!(submit_problems(&requirements(), &at_max), Vec::new());
}

#[test]
fn submit_text_missing_rejected() {
    let mut submission = valid();
    submission.text.clear();
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![SubmissionProblem::Missing { part: Part::Text }]
    );
}

#[test]
fn submit_text_whitespace_is_missing() {
    let mut submission = valid();
    submission.text = " \n ".into();
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![SubmissionProblem::Missing { part: Part::Text }]
    );
}

#[test]
fn submit_text_too_few_words_rejected() {
    let mut submission = valid();
    submission.text = words(4);
    let problems = submit_problems(&requirements(), &submission);
    assert_eq!(
        problems,
        vec![SubmissionProblem::TooFewWords {
            part: Part::Text,
            words: 4,
            min: 5,
        }]
    );
    assert_eq!(
        problems[0].to_string(),
        "the text has 4 words, fewer than the minimum of 5: add at least 1 more"
    );
}

#[test]
fn submit_text_punctuation_not_counted_toward_minimum() {
    let mut submission = valid();
    submission.text = "one two three four - - - - -".into();
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![SubmissionProblem::TooFewWords {
            part: Part::Text,
            words: 4,
            min: 5,
        }]
    );
}

#[test]
fn submit_text_too_many_words_rejected() {
    let mut submission = valid();
    submission.text = words(23);
    let problems = submit_problems(&requirements(), &submission);
    assert_eq!(
        problems,
        vec![SubmissionProblem::TooManyWords {
            part: Part::Text,
            words: 23,
            max: 20,
        }]
    );
    assert_eq!(
        problems[0].to_string(),
        "the text has 23 words, more than the maximum of 20: remove at least 3"
    );
}

#[test]
fn submit_optional_text_blank_accepted() {
    let mut optional = requirements();
    optional.text.as_mut().unwrap().required = false;
    let mut submission = valid();
    submission.text.clear();
    assert_eq!(submit_problems(&optional, &submission), Vec::new());
}

#[test]
fn submit_optional_text_still_has_minimum() {
    let mut optional = requirements();
    optional.text.as_mut().unwrap().required = false;
    let mut submission = valid();
    submission.text = words(2);
    assert_eq!(
        submit_problems(&optional, &submission),
        vec![SubmissionProblem::TooFewWords {
            part: Part::Text,
            words: 2,
            min: 5,
        }]
    );
}

#[test]
fn submit_text_not_accepted_rejected() {
    let mut no_text = requirements();
    no_text.text = None;
    let problems = submit_problems(&no_text, &valid());
    assert_eq!(
        problems,
        vec![SubmissionProblem::NotAccepted { part: Part::Text }]
    );
    assert_eq!(
        problems[0].to_string(),
        "this component does not accept text: remove it"
    );
}

#[test]
fn submit_reflection_missing_rejected() {
    let mut submission = valid();
    submission.reflection.clear();
    let problems = submit_problems(&requirements(), &submission);
    assert_eq!(
        problems,
        vec![SubmissionProblem::Missing {
            part: Part::Reflection
        }]
    );
    assert_eq!(
        problems[0].to_string(),
        "the reflection is missing: answer the reflection prompt"
    );
}

#[test]
fn submit_reflection_too_few_words_rejected() {
    let mut submission = valid();
    submission.reflection = words(2);
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![SubmissionProblem::TooFewWords {
            part: Part::Reflection,
            words: 2,
            min: 3,
        }]
    );
}

#[test]
fn submit_reflection_too_many_words_rejected() {
    let mut submission = valid();
    submission.reflection = words(11);
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![SubmissionProblem::TooManyWords {
            part: Part::Reflection,
            words: 11,
            max: 10,
        }]
    );
}

#[test]
fn submit_text_over_hard_bound_rejected() {
    let mut no_maximum = requirements();
    no_maximum.text.as_mut().unwrap().max_words = None;
    let mut submission = valid();
    submission.text = "abcde ".repeat(16_667);
    assert_eq!(
        submit_problems(&no_maximum, &submission),
        vec![SubmissionProblem::TooLong {
            part: Part::Text,
            chars: 100_002,
            max: 100_000,
        }]
    );
}

// Submissions: files

#[test]
fn submit_required_file_missing_rejected() {
    let mut files_required = requirements();
    files_required.files.as_mut().unwrap().required = true;
    let mut submission = valid();
    submission.file_count = 0;
    let problems = submit_problems(&files_required, &submission);
    assert_eq!(
        problems,
        vec![SubmissionProblem::Missing { part: Part::Files }]
    );
    assert_eq!(
        problems[0].to_string(),
        "no file is attached: attach at least one file"
    );
}

#[test]
fn submit_optional_files_none_accepted() {
    let mut submission = valid();
    submission.file_count = 0;
    assert_eq!(submit_problems(&requirements(), &submission), Vec::new());
}

#[test]
fn submit_too_many_files_rejected() {
    let mut submission = valid();
    submission.file_count = 3;
    let problems = submit_problems(&requirements(), &submission);
    assert_eq!(
        problems,
        vec![SubmissionProblem::TooMany {
            part: Part::Files,
            count: 3,
            max: 2,
        }]
    );
    assert_eq!(
        problems[0].to_string(),
        "3 files are given, more than the maximum of 2: remove at least 1"
    );
}

#[test]
fn submit_files_not_accepted_rejected() {
    let mut no_files = requirements();
    no_files.files = None;
    assert_eq!(
        submit_problems(&no_files, &valid()),
        vec![SubmissionProblem::NotAccepted { part: Part::Files }]
    );
}

// Submissions: links

#[test]
fn submit_required_link_missing_rejected() {
    let mut links_required = requirements();
    links_required.links.as_mut().unwrap().required = true;
    let mut submission = valid();
    submission.links.clear();
    assert_eq!(
        submit_problems(&links_required, &submission),
        vec![SubmissionProblem::Missing { part: Part::Links }]
    );
}

#[test]
fn submit_too_many_links_rejected() {
    let mut submission = valid();
    submission.links = vec!["https://example.org/a".into(); 3];
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![SubmissionProblem::TooMany {
            part: Part::Links,
            count: 3,
            max: 2,
        }]
    );
}

#[test]
fn submit_links_not_accepted_rejected() {
    let mut no_links = requirements();
    no_links.links = None;
    let mut submission = valid();
    submission.links = vec!["javascript:alert(1)".into()];
    assert_eq!(
        submit_problems(&no_links, &submission),
        vec![SubmissionProblem::NotAccepted { part: Part::Links }]
    );
}

#[test]
fn link_http_accepted() {
    assert_eq!(link_problem("http://video.example.org/clip"), Vec::new());
}

#[test]
fn link_surrounding_whitespace_accepted() {
    assert_eq!(
        link_problem("  https://video.example.org/clip \n"),
        Vec::new()
    );
}

#[test]
fn link_javascript_rejected() {
    let problems = link_problem("javascript:alert(1)");
    assert_eq!(
        problems,
        vec![SubmissionProblem::InvalidLink {
            position: 1,
            link: "javascript:alert(1)".into(),
            reason: LinkProblem::UnsupportedScheme("javascript".into()),
        }]
    );
    assert_eq!(
        problems[0].to_string(),
        "link 1 (\"javascript:alert(1)\") is invalid because its scheme is \"javascript\", \
         but only http and https are accepted: enter the full address of a web page, starting with https://"
    );
}

#[test]
fn link_javascript_uppercase_rejected() {
    assert_eq!(
        link_problem("JavaScript:alert(1)"),
        vec![SubmissionProblem::InvalidLink {
            position: 1,
            link: "JavaScript:alert(1)".into(),
            reason: LinkProblem::UnsupportedScheme("javascript".into()),
        }]
    );
}

#[test]
fn link_data_rejected() {
    assert_eq!(
        link_problem("data:text/html,<p>hi</p>"),
        vec![SubmissionProblem::InvalidLink {
            position: 1,
            link: "data:text/html,<p>hi</p>".into(),
            reason: LinkProblem::UnsupportedScheme("data".into()),
        }]
    );
}

#[test]
fn link_ftp_rejected() {
    assert_eq!(
        link_problem("ftp://files.example.org/a"),
        vec![SubmissionProblem::InvalidLink {
            position: 1,
            link: "ftp://files.example.org/a".into(),
            reason: LinkProblem::UnsupportedScheme("ftp".into()),
        }]
    );
}

#[test]
fn link_without_scheme_rejected() {
    assert_eq!(
        link_problem("video.example.org/clip"),
        vec![SubmissionProblem::InvalidLink {
            position: 1,
            link: "video.example.org/clip".into(),
            reason: LinkProblem::NotAbsolute,
        }]
    );
}

#[test]
fn link_without_host_rejected() {
    assert_eq!(
        link_problem("https://"),
        vec![SubmissionProblem::InvalidLink {
            position: 1,
            link: "https://".into(),
            reason: LinkProblem::Unparsable("empty host".into()),
        }]
    );
}

#[test]
fn link_blank_rejected() {
    assert_eq!(
        link_problem("  "),
        vec![SubmissionProblem::InvalidLink {
            position: 1,
            link: "  ".into(),
            reason: LinkProblem::Empty,
        }]
    );
}

#[test]
fn link_position_counts_from_one() {
    let mut submission = valid();
    submission.links = vec![
        "https://example.org/ok".into(),
        "mailto:a@example.org".into(),
    ];
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![SubmissionProblem::InvalidLink {
            position: 2,
            link: "mailto:a@example.org".into(),
            reason: LinkProblem::UnsupportedScheme("mailto".into()),
        }]
    );
}

#[test]
fn link_too_long_rejected_once() {
    let long = format!("https://example.org/{}", "a".repeat(2_100));
    assert_eq!(
        link_problem(&long),
        vec![SubmissionProblem::LinkTooLong {
            position: 1,
            chars: 2_120,
            max: 2_048,
        }]
    );
}

#[test]
fn link_message_shortens_long_link() {
    let long = format!("javascript:{}", "a".repeat(200));
    let message = link_problem(&long)[0].to_string();
    assert!(
        message.starts_with(&format!("link 1 (\"javascript:{}…\")", "a".repeat(69))),
        "{message}"
    );
}

#[test]
fn submit_reports_all_problems() {
    let submission = Submission {
        text: words(2),
        reflection: String::new(),
        file_count: 5,
        links: vec!["data:,x".into()],
    };
    assert_eq!(
        submit_problems(&requirements(), &submission),
        vec![
            SubmissionProblem::TooFewWords {
                part: Part::Text,
                words: 2,
                min: 5,
            },
            SubmissionProblem::Missing {
                part: Part::Reflection
            },
            SubmissionProblem::TooMany {
                part: Part::Files,
                count: 5,
                max: 2,
            },
            SubmissionProblem::InvalidLink {
                position: 1,
                link: "data:,x".into(),
                reason: LinkProblem::UnsupportedScheme("data".into()),
            },
        ]
    );
}
