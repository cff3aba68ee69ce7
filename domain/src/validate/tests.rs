use crate::catalogue::{Catalogue, MicroCredential};
use crate::error::Problem;
use crate::submission::{FileRequirement, LinkRequirement};
use crate::test_support::{catalogue, component, credential, level};

const CRED: &str = "micro_credential \"checks\"";
const C1: &str = "micro_credential \"checks\" > component \"c1\"";
const ALIGNMENT: &str =
    "micro_credential \"checks\" > component \"c1\" > rubric > criterion \"alignment\"";

fn problems(credential: &MicroCredential) -> Vec<Problem> {
    match credential.validate() {
        Ok(()) => Vec::new(),
        Err(error) => error.problems,
    }
}

/// Returns the single problem of a definition, failing when there are none or several.
fn only_problem(credential: &MicroCredential) -> Problem {
    let mut found = problems(credential);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one problem, found {found:#?}"
    );
    found.remove(0)
}

fn assert_problem(credential: &MicroCredential, path: &str, message: &str) {
    let problem = only_problem(credential);
    assert_eq!(problem.path, path);
    assert_eq!(problem.message, message);
}

#[test]
fn sample_definition_is_valid() {
    assert_eq!(problems(&credential("checks")), Vec::new());
}

#[test]
fn problem_display_has_path_message_and_fix() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0].mastery_level = "mastered".into();
    let problem = only_problem(&definition);
    assert_eq!(
        problem.to_string(),
        format!(
            "{ALIGNMENT}: mastery level \"mastered\" is not one of its levels. \
             Fix: set mastery_level to one of \"emerging\", \"developing\", \"proficient\", \"exemplary\"."
        )
    );
}

#[test]
fn all_problems_reported_together() {
    let mut definition = credential("checks");
    definition.title.clear();
    definition.ceus = 0.0;
    definition.components[2].prompt.clear();
    definition.components[4].rubric.criteria[1]
        .levels
        .truncate(1);
    let messages: Vec<String> = problems(&definition)
        .into_iter()
        .map(|problem| format!("{}: {}", problem.path, problem.message))
        .collect();
    assert_eq!(
        messages,
        vec![
            format!("{CRED}: title is empty"),
            format!("{CRED}: ceus is 0, but must be more than 0"),
            format!("{CRED} > component \"c3\": prompt is empty"),
            format!("{CRED} > component \"c5\" > rubric > criterion \"evidence\": it has 1 level, but a criterion needs at least 2"),
            format!("{CRED} > component \"c5\" > rubric > criterion \"evidence\": mastery level \"proficient\" is not one of its levels"),
        ]
    );
}

#[test]
fn validation_error_display_lists_problems() {
    let mut definition = credential("checks");
    definition.title.clear();
    definition.key_method.clear();
    let error = definition.validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "invalid micro-credential definition, 2 problems found:\n\
             - {CRED}: title is empty. Fix: write the title.\n\
             - {CRED}: key_method is empty. Fix: write the key_method."
        )
    );
}

// Catalogue-level rules

#[test]
fn catalogue_empty_rejected() {
    let problems = Catalogue::default().validate().unwrap_err().problems;
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "");
    assert_eq!(
        problems[0].message,
        "the catalogue has no micro-credentials"
    );
}

#[test]
fn catalogue_duplicate_slug_rejected() {
    let mut duplicated = catalogue();
    duplicated.micro_credentials.push(credential("checks"));
    let problems = duplicated.validate().unwrap_err().problems;
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, CRED);
    assert_eq!(
        problems[0].message,
        "slug \"checks\" is used by more than one micro-credential"
    );
}

#[test]
fn catalogue_distinct_slugs_accepted() {
    let mut two = catalogue();
    two.micro_credentials.push(credential("talk"));
    assert_eq!(two.validate(), Ok(()));
}

// Slug and text fields

#[test]
fn slug_empty_rejected_and_named_by_position() {
    let mut definition = credential("");
    definition.slug.clear();
    assert_problem(&definition, "micro_credential #1", "slug is empty");
}

#[test]
fn slug_uppercase_rejected() {
    assert_problem(
        &credential("Exit-Tickets"),
        "micro_credential \"Exit-Tickets\"",
        "slug \"Exit-Tickets\" is invalid",
    );
}

#[test]
fn slug_space_rejected() {
    assert_problem(
        &credential("exit tickets"),
        "micro_credential \"exit tickets\"",
        "slug \"exit tickets\" is invalid",
    );
}

#[test]
fn slug_double_hyphen_rejected() {
    assert_problem(
        &credential("exit--tickets"),
        "micro_credential \"exit--tickets\"",
        "slug \"exit--tickets\" is invalid",
    );
}

#[test]
fn slug_leading_hyphen_rejected() {
    assert_problem(
        &credential("-exit"),
        "micro_credential \"-exit\"",
        "slug \"-exit\" is invalid",
    );
}

#[test]
fn slug_too_long_rejected() {
    let slug = "a".repeat(65);
    assert_problem(
        &credential(&slug),
        &format!("micro_credential \"{slug}\""),
        "slug has 65 characters, more than the maximum of 64",
    );
}

#[test]
fn slug_at_max_length_accepted() {
    assert_eq!(problems(&credential(&"a".repeat(64))), Vec::new());
}

#[test]
fn title_blank_rejected() {
    let mut definition = credential("checks");
    definition.title = "   ".into();
    assert_problem(&definition, CRED, "title is empty");
}

#[test]
fn title_too_long_rejected() {
    let mut definition = credential("checks");
    definition.title = "t".repeat(201);
    assert_problem(
        &definition,
        CRED,
        "title has 201 characters, more than the maximum of 200",
    );
}

#[test]
fn title_length_counts_characters() {
    let mut definition = credential("checks");
    definition.title = "é".repeat(200);
    assert_eq!(problems(&definition), Vec::new());
}

#[test]
fn competency_empty_rejected() {
    let mut definition = credential("checks");
    definition.competency.clear();
    assert_problem(&definition, CRED, "competency is empty");
}

#[test]
fn key_method_too_long_rejected() {
    let mut definition = credential("checks");
    definition.key_method = "m".repeat(4001);
    assert_problem(
        &definition,
        CRED,
        "key_method has 4001 characters, more than the maximum of 4000",
    );
}

// Research basis

#[test]
fn research_summary_empty_rejected() {
    let mut definition = credential("checks");
    definition.research.summary.clear();
    assert_problem(
        &definition,
        &format!("{CRED} > research"),
        "summary is empty",
    );
}

#[test]
fn research_without_citations_rejected() {
    let mut definition = credential("checks");
    definition.research.citations.clear();
    assert_problem(
        &definition,
        &format!("{CRED} > research"),
        "it has no citations",
    );
}

#[test]
fn citation_year_out_of_range_rejected() {
    let mut definition = credential("checks");
    definition.research.citations[0].year = 1066;
    assert_problem(
        &definition,
        &format!("{CRED} > research > citation #1"),
        "year 1066 is out of range",
    );
}

#[test]
fn citation_authors_empty_rejected() {
    let mut definition = credential("checks");
    definition.research.citations[0].authors.clear();
    assert_problem(
        &definition,
        &format!("{CRED} > research > citation #1"),
        "authors is empty",
    );
}

// Self-check

#[test]
fn self_check_empty_rejected() {
    let mut definition = credential("checks");
    definition.self_check_items.clear();
    assert_problem(&definition, CRED, "self_check has no items");
}

#[test]
fn self_check_too_many_items_rejected() {
    let mut definition = credential("checks");
    let template = definition.self_check_items[0].clone();
    definition.self_check_items = (0..11)
        .map(|index| {
            let mut item = template.clone();
            item.key = format!("item-{index}");
            item
        })
        .collect();
    assert_problem(
        &definition,
        CRED,
        "self_check has 11 items, more than the maximum of 10",
    );
}

#[test]
fn self_check_duplicate_key_rejected() {
    let mut definition = credential("checks");
    definition.self_check_items[1].key = "goals".into();
    assert_problem(
        &definition,
        CRED,
        "self-check key \"goals\" is used by more than one item",
    );
}

#[test]
fn self_check_statement_too_long_rejected() {
    let mut definition = credential("checks");
    definition.self_check_items[0].statement = "s".repeat(301);
    assert_problem(
        &definition,
        &format!("{CRED} > self_check \"goals\""),
        "statement has 301 characters, more than the maximum of 300",
    );
}

// Course

#[test]
fn course_is_optional() {
    let mut definition = credential("checks");
    definition.course = None;
    assert_eq!(problems(&definition), Vec::new());
}

#[test]
fn course_http_url_accepted() {
    let mut definition = credential("checks");
    definition.course.as_mut().unwrap().url = "http://learn.example.org/course".into();
    assert_eq!(problems(&definition), Vec::new());
}

#[test]
fn course_javascript_url_rejected() {
    let mut definition = credential("checks");
    definition.course.as_mut().unwrap().url = "javascript:alert(1)".into();
    assert_problem(
        &definition,
        &format!("{CRED} > course"),
        "url \"javascript:alert(1)\" is invalid because its scheme is \"javascript\", but only http and https are accepted",
    );
}

#[test]
fn course_ftp_url_rejected() {
    let mut definition = credential("checks");
    definition.course.as_mut().unwrap().url = "ftp://files.example.org/course".into();
    assert_problem(
        &definition,
        &format!("{CRED} > course"),
        "url \"ftp://files.example.org/course\" is invalid because its scheme is \"ftp\", but only http and https are accepted",
    );
}

#[test]
fn course_relative_url_rejected() {
    let mut definition = credential("checks");
    definition.course.as_mut().unwrap().url = "learn.example.org/course".into();
    assert_problem(
        &definition,
        &format!("{CRED} > course"),
        "url \"learn.example.org/course\" is invalid because it does not start with http:// or https://",
    );
}

#[test]
fn course_empty_url_rejected() {
    let mut definition = credential("checks");
    definition.course.as_mut().unwrap().url.clear();
    assert_problem(
        &definition,
        &format!("{CRED} > course"),
        "url \"\" is invalid because it is empty",
    );
}

#[test]
fn course_title_empty_rejected() {
    let mut definition = credential("checks");
    definition.course.as_mut().unwrap().title.clear();
    assert_problem(&definition, &format!("{CRED} > course"), "title is empty");
}

// CEUs and hours

#[test]
fn ceus_zero_rejected() {
    let mut definition = credential("checks");
    definition.ceus = 0.0;
    assert_problem(&definition, CRED, "ceus is 0, but must be more than 0");
}

#[test]
fn ceus_negative_rejected() {
    let mut definition = credential("checks");
    definition.ceus = -1.5;
    assert_problem(&definition, CRED, "ceus is -1.5, but must be more than 0");
}

#[test]
fn ceus_above_maximum_rejected() {
    let mut definition = credential("checks");
    definition.ceus = 100.5;
    assert_problem(
        &definition,
        CRED,
        "ceus is 100.5, more than the maximum of 100",
    );
}

#[test]
fn ceus_at_maximum_accepted() {
    let mut definition = credential("checks");
    definition.ceus = 100.0;
    assert_eq!(problems(&definition), Vec::new());
}

#[test]
fn ceus_three_decimals_rejected() {
    let mut definition = credential("checks");
    definition.ceus = 2.005;
    assert_problem(
        &definition,
        CRED,
        "ceus is 2.005, which has more than two decimals",
    );
}

#[test]
fn ceus_two_decimals_accepted() {
    for ceus in [0.01, 1.1, 2.05, 2.25, 99.99] {
        let mut definition = credential("checks");
        definition.ceus = ceus;
        assert_eq!(problems(&definition), Vec::new(), "ceus {ceus}");
    }
}

#[test]
fn ceus_not_finite_rejected() {
    let mut definition = credential("checks");
    definition.ceus = f64::NAN;
    assert_problem(&definition, CRED, "ceus is NaN, not a finite number");
}

#[test]
fn estimated_hours_zero_rejected() {
    let mut definition = credential("checks");
    definition.estimated_hours = 0;
    assert_problem(
        &definition,
        CRED,
        "estimated_hours is 0, but must be at least 1",
    );
}

#[test]
fn estimated_hours_above_maximum_rejected() {
    let mut definition = credential("checks");
    definition.estimated_hours = 501;
    assert_problem(
        &definition,
        CRED,
        "estimated_hours is 501, more than the maximum of 500",
    );
}

// Components

#[test]
fn components_four_rejected() {
    let mut definition = credential("checks");
    definition.components.pop();
    assert_problem(
        &definition,
        CRED,
        "it has 4 components, but a micro-credential needs exactly 5",
    );
}

#[test]
fn components_six_rejected() {
    let mut definition = credential("checks");
    definition.components.push(component("c6"));
    assert_problem(
        &definition,
        CRED,
        "it has 6 components, but a micro-credential needs exactly 5",
    );
}

#[test]
fn component_duplicate_key_rejected() {
    let mut definition = credential("checks");
    definition.components[4].key = "c1".into();
    assert_problem(
        &definition,
        CRED,
        "component key \"c1\" is used by more than one component",
    );
}

#[test]
fn component_empty_key_named_by_position() {
    let mut definition = credential("checks");
    definition.components[2].key.clear();
    assert_problem(
        &definition,
        &format!("{CRED} > component #3"),
        "key is empty",
    );
}

#[test]
fn component_invalid_key_rejected() {
    let mut definition = credential("checks");
    definition.components[0].key = "c_1".into();
    assert_problem(
        &definition,
        &format!("{CRED} > component \"c_1\""),
        "key \"c_1\" is invalid",
    );
}

#[test]
fn component_title_empty_rejected() {
    let mut definition = credential("checks");
    definition.components[0].title.clear();
    assert_problem(&definition, C1, "title is empty");
}

#[test]
fn component_prompt_empty_rejected() {
    let mut definition = credential("checks");
    definition.components[0].prompt = "\n\t".into();
    assert_problem(&definition, C1, "prompt is empty");
}

// Submission requirements

#[test]
fn submission_without_required_part_rejected() {
    let mut definition = credential("checks");
    let submission = &mut definition.components[0].submission;
    submission.text.as_mut().unwrap().required = false;
    submission.reflection.as_mut().unwrap().required = false;
    assert_problem(
        &definition,
        &format!("{C1} > submission"),
        "no part is required, so an empty submission could be submitted",
    );
}

#[test]
fn submission_without_parts_rejected() {
    let mut definition = credential("checks");
    definition.components[0].submission = Default::default();
    assert_problem(
        &definition,
        &format!("{C1} > submission"),
        "no part is required, so an empty submission could be submitted",
    );
}

#[test]
fn text_min_above_max_rejected() {
    let mut definition = credential("checks");
    let text = definition.components[0].submission.text.as_mut().unwrap();
    text.min_words = Some(500);
    text.max_words = Some(300);
    assert_problem(
        &definition,
        &format!("{C1} > submission > text"),
        "min_words (500) is greater than max_words (300)",
    );
}

#[test]
fn text_min_equal_max_accepted() {
    let mut definition = credential("checks");
    let text = definition.components[0].submission.text.as_mut().unwrap();
    text.min_words = Some(300);
    text.max_words = Some(300);
    assert_eq!(problems(&definition), Vec::new());
}

#[test]
fn text_max_zero_rejected() {
    let mut definition = credential("checks");
    let text = definition.components[0].submission.text.as_mut().unwrap();
    text.min_words = None;
    text.max_words = Some(0);
    assert_problem(
        &definition,
        &format!("{C1} > submission > text"),
        "max_words is 0, so no words could be accepted",
    );
}

#[test]
fn text_max_above_limit_rejected() {
    let mut definition = credential("checks");
    definition.components[0]
        .submission
        .text
        .as_mut()
        .unwrap()
        .max_words = Some(10_001);
    assert_problem(
        &definition,
        &format!("{C1} > submission > text"),
        "max_words is 10001, more than the maximum of 10000",
    );
}

#[test]
fn reflection_min_above_max_rejected() {
    let mut definition = credential("checks");
    let reflection = definition.components[1]
        .submission
        .reflection
        .as_mut()
        .unwrap();
    reflection.min_words = Some(11);
    reflection.max_words = Some(10);
    assert_problem(
        &definition,
        &format!("{CRED} > component \"c2\" > submission > reflection"),
        "min_words (11) is greater than max_words (10)",
    );
}

#[test]
fn reflection_prompt_empty_rejected() {
    let mut definition = credential("checks");
    definition.components[0]
        .submission
        .reflection
        .as_mut()
        .unwrap()
        .prompt
        .clear();
    assert_problem(
        &definition,
        &format!("{C1} > submission > reflection"),
        "prompt is empty",
    );
}

#[test]
fn files_max_count_zero_rejected() {
    let mut definition = credential("checks");
    definition.components[0].submission.files = Some(FileRequirement {
        required: false,
        max_count: 0,
    });
    assert_problem(
        &definition,
        &format!("{C1} > submission > files"),
        "max_count is 0, so no file could be given",
    );
}

#[test]
fn links_max_count_above_limit_rejected() {
    let mut definition = credential("checks");
    definition.components[0].submission.links = Some(LinkRequirement {
        required: false,
        max_count: 21,
    });
    assert_problem(
        &definition,
        &format!("{C1} > submission > links"),
        "max_count is 21, more than the maximum of 20",
    );
}

// Rubrics

#[test]
fn rubric_without_criteria_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria.clear();
    assert_problem(&definition, &format!("{C1} > rubric"), "it has no criteria");
}

#[test]
fn rubric_duplicate_criterion_key_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[1].key = "alignment".into();
    assert_problem(
        &definition,
        &format!("{C1} > rubric"),
        "criterion key \"alignment\" is used by more than one criterion",
    );
}

#[test]
fn criterion_mastery_not_a_level_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0].mastery_level = "competent".into();
    assert_problem(
        &definition,
        ALIGNMENT,
        "mastery level \"competent\" is not one of its levels",
    );
}

#[test]
fn criterion_mastery_empty_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0]
        .mastery_level
        .clear();
    assert_problem(&definition, ALIGNMENT, "mastery_level is empty");
}

#[test]
fn criterion_mastery_lowest_level_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0].mastery_level = "emerging".into();
    assert_problem(
        &definition,
        ALIGNMENT,
        "mastery level \"emerging\" is the lowest level, so every rating would count as mastery",
    );
}

#[test]
fn criterion_two_levels_accepted() {
    let mut definition = credential("checks");
    let criterion = &mut definition.components[0].rubric.criteria[0];
    criterion.levels = vec![level("not-yet"), level("met")];
    criterion.mastery_level = "met".into();
    assert_eq!(problems(&definition), Vec::new());
}

#[test]
fn criterion_one_level_rejected() {
    let mut definition = credential("checks");
    let criterion = &mut definition.components[0].rubric.criteria[0];
    criterion.levels = vec![level("met")];
    criterion.mastery_level = "met".into();
    assert_problem(
        &definition,
        ALIGNMENT,
        "it has 1 level, but a criterion needs at least 2",
    );
}

#[test]
fn criterion_seven_levels_rejected() {
    let mut definition = credential("checks");
    let criterion = &mut definition.components[0].rubric.criteria[0];
    criterion.levels = (1..=7).map(|index| level(&format!("l{index}"))).collect();
    criterion.mastery_level = "l4".into();
    assert_problem(
        &definition,
        ALIGNMENT,
        "it has 7 levels, more than the maximum of 6",
    );
}

#[test]
fn criterion_duplicate_level_key_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0].levels[1].key = "emerging".into();
    assert_problem(
        &definition,
        ALIGNMENT,
        "level key \"emerging\" is used by more than one level",
    );
}

#[test]
fn criterion_title_empty_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0].title.clear();
    assert_problem(&definition, ALIGNMENT, "title is empty");
}

#[test]
fn level_label_empty_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0].levels[2]
        .label
        .clear();
    assert_problem(
        &definition,
        &format!("{ALIGNMENT} > level \"proficient\""),
        "label is empty",
    );
}

#[test]
fn level_description_too_long_rejected() {
    let mut definition = credential("checks");
    definition.components[0].rubric.criteria[0].levels[0].description = "d".repeat(1001);
    assert_problem(
        &definition,
        &format!("{ALIGNMENT} > level \"emerging\""),
        "description has 1001 characters, more than the maximum of 1000",
    );
}
