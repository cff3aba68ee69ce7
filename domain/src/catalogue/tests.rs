use std::fs;
use std::path::{Path, PathBuf};

use crate::catalogue::Catalogue;
use crate::error::CatalogueError;
use crate::limits::COMPONENT_COUNT;
use crate::test_support::{catalogue, credential};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/catalogue")
}

/// Writes a catalogue with one valid micro-credential as TOML.
fn small_toml(slug: &str) -> String {
    Catalogue {
        micro_credentials: vec![credential(slug)],
    }
    .to_toml_string()
    .unwrap()
}

fn invalid_problems(error: CatalogueError) -> Vec<String> {
    match error {
        CatalogueError::Invalid(invalid) => invalid
            .problems
            .into_iter()
            .map(|problem| format!("{}: {}", problem.path, problem.message))
            .collect(),
        other => panic!("expected an invalid catalogue, got {other:?}"),
    }
}

// The sample catalogue in config/catalogue

#[test]
fn sample_formative_assessment_loads() {
    let loaded = Catalogue::load_file(&sample_dir().join("formative-assessment.toml")).unwrap();
    assert_eq!(loaded.micro_credentials.len(), 1);
    assert!(loaded.get("exit-tickets").is_some());
}

#[test]
fn sample_academic_discourse_loads() {
    let loaded = Catalogue::load_file(&sample_dir().join("academic-discourse.toml")).unwrap();
    assert_eq!(loaded.micro_credentials.len(), 1);
    assert!(loaded.get("accountable-talk").is_some());
}

#[test]
fn sample_dir_loads_both() {
    let loaded = Catalogue::load_dir(&sample_dir()).unwrap();
    let slugs: Vec<&str> = loaded
        .micro_credentials
        .iter()
        .map(|credential| credential.slug.as_str())
        .collect();
    // File name order: academic-discourse.toml, then formative-assessment.toml.
    assert_eq!(slugs, vec!["accountable-talk", "exit-tickets"]);
}

#[test]
fn sample_definitions_meet_content_brief() {
    let loaded = Catalogue::load_dir(&sample_dir()).unwrap();
    for definition in &loaded.micro_credentials {
        let slug = &definition.slug;
        assert_eq!(definition.ceus, 2.0, "{slug}");
        assert_eq!(definition.estimated_hours, 20, "{slug}");
        assert!(
            (3..=4).contains(&definition.research.citations.len()),
            "{slug}"
        );
        assert!(
            (4..=6).contains(&definition.self_check_items.len()),
            "{slug}"
        );
        let course = definition.course.as_ref().unwrap();
        assert!(
            course.url.starts_with("https://learn.example.org/"),
            "{slug}"
        );
        assert_eq!(definition.components.len(), COMPONENT_COUNT, "{slug}");
        for component in &definition.components {
            let key = &component.key;
            let criteria = &component.rubric.criteria;
            assert!((3..=4).contains(&criteria.len()), "{slug} {key}");
            assert!(component.submission.reflection.is_some(), "{slug} {key}");
            for criterion in criteria {
                let labels: Vec<&str> = criterion
                    .levels
                    .iter()
                    .map(|level| level.label.as_str())
                    .collect();
                assert_eq!(
                    labels,
                    vec!["Emerging", "Developing", "Proficient", "Exemplary"],
                    "{slug} {key}"
                );
                assert_eq!(criterion.mastery_level, "proficient", "{slug} {key}");
            }
        }
    }
}

#[test]
fn sample_multiline_strings_are_single_paragraphs() {
    let loaded = Catalogue::load_dir(&sample_dir()).unwrap();
    for definition in &loaded.micro_credentials {
        assert!(!definition.competency.contains('\n'), "{}", definition.slug);
        assert!(
            !definition.research.summary.contains('\n'),
            "{}",
            definition.slug
        );
        assert!(
            !definition.research.summary.contains("  "),
            "{}",
            definition.slug
        );
        for component in &definition.components {
            assert!(
                !component.prompt.contains('\n'),
                "{} {}",
                definition.slug,
                component.key
            );
        }
    }
}

// Round trips

#[test]
fn toml_round_trip_keeps_samples() {
    let loaded = Catalogue::load_dir(&sample_dir()).unwrap();
    let text = loaded.to_toml_string().unwrap();
    assert!(text.contains("[[micro_credential.component.rubric.criterion.level]]"));
    assert_eq!(Catalogue::from_toml_str(&text).unwrap(), loaded);
}

#[test]
fn json_round_trip_keeps_samples() {
    let loaded = Catalogue::load_dir(&sample_dir()).unwrap();
    let text = loaded.to_json_string().unwrap();
    assert_eq!(Catalogue::from_json_str(&text).unwrap(), loaded);
}

#[test]
fn toml_round_trip_keeps_optional_parts_absent() {
    let mut original = catalogue();
    original.micro_credentials[0].course = None;
    original.micro_credentials[0].components[0].submission.files = None;
    let text = original.to_toml_string().unwrap();
    assert!(!text.contains("[micro_credential.course]"));
    assert_eq!(Catalogue::from_toml_str(&text).unwrap(), original);
}

// Parsing

#[test]
fn parse_defaults_ceus_and_hours() {
    let text = small_toml("checks")
        .replace("ceus = 2.0\n", "")
        .replace("estimated_hours = 20\n", "");
    assert!(!text.contains("ceus"));
    let parsed = Catalogue::from_toml_str(&text).unwrap();
    assert_eq!(parsed.micro_credentials[0].ceus, 2.0);
    assert_eq!(parsed.micro_credentials[0].estimated_hours, 20);
}

#[test]
fn parse_integer_ceus_accepted() {
    let text = small_toml("checks").replace("ceus = 2.0", "ceus = 3");
    assert_eq!(
        Catalogue::from_toml_str(&text).unwrap().micro_credentials[0].ceus,
        3.0
    );
}

#[test]
fn parse_required_defaults_to_true() {
    let text = small_toml("checks").replacen("required = false\n", "", 1);
    let parsed = Catalogue::from_toml_str(&text).unwrap();
    let files = parsed.micro_credentials[0].components[0]
        .submission
        .files
        .as_ref()
        .unwrap();
    assert!(files.required);
}

#[test]
fn parse_unknown_key_rejected() {
    let text = small_toml("checks").replacen("min_words = 5", "min_word = 5", 1);
    let error = Catalogue::from_toml_str(&text).unwrap_err();
    assert!(
        matches!(error, CatalogueError::Toml { path: None, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.starts_with("invalid TOML catalogue: "), "{message}");
    assert!(message.contains("unknown field `min_word`"), "{message}");
}

#[test]
fn parse_missing_field_rejected() {
    let text = small_toml("checks").replacen("key_method = \"Exit tickets.\"\n", "", 1);
    let message = Catalogue::from_toml_str(&text).unwrap_err().to_string();
    assert!(message.contains("missing field `key_method`"), "{message}");
}

#[test]
fn parse_syntax_error_rejected() {
    let error = Catalogue::from_toml_str("[[micro_credential]\nslug = 1").unwrap_err();
    assert!(matches!(error, CatalogueError::Toml { .. }), "{error:?}");
}

#[test]
fn parse_invalid_definition_lists_problems() {
    let text = small_toml("checks")
        .replace("ceus = 2.0", "ceus = 0.125")
        .replacen(
            "mastery_level = \"proficient\"",
            "mastery_level = \"mastered\"",
            1,
        );
    let problems = invalid_problems(Catalogue::from_toml_str(&text).unwrap_err());
    assert_eq!(
        problems,
        vec![
            "micro_credential \"checks\": ceus is 0.125, which has more than two decimals".to_owned(),
            "micro_credential \"checks\" > component \"c1\" > rubric > criterion \"alignment\": mastery level \"mastered\" is not one of its levels".to_owned(),
        ]
    );
}

#[test]
fn parse_json_invalid_rejected() {
    let error = Catalogue::from_json_str("{\"micro_credential\": 3}").unwrap_err();
    assert!(
        matches!(error, CatalogueError::Json { path: None, .. }),
        "{error:?}"
    );
}

#[test]
fn parse_empty_catalogue_rejected() {
    let problems = invalid_problems(Catalogue::from_toml_str("").unwrap_err());
    assert_eq!(
        problems,
        vec![": the catalogue has no micro-credentials".to_owned()]
    );
}

#[test]
fn catalogue_get_finds_by_slug() {
    let loaded = catalogue();
    assert_eq!(
        loaded.get("checks").map(|c| c.title.as_str()),
        Some("Checking for understanding")
    );
    assert!(loaded.get("missing").is_none());
    assert!(loaded.micro_credentials[0].component("c3").is_some());
    assert!(loaded.micro_credentials[0].component("c9").is_none());
}

// Files and folders

#[test]
fn load_file_missing_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let error = Catalogue::load_file(&path).unwrap_err();
    assert!(matches!(error, CatalogueError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("absent.toml"));
}

#[test]
fn load_file_unsupported_extension_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalogue.yaml");
    fs::write(&path, "slug: x").unwrap();
    let error = Catalogue::load_file(&path).unwrap_err();
    assert!(
        matches!(error, CatalogueError::UnsupportedFormat { .. }),
        "{error:?}"
    );
}

#[test]
fn load_file_error_names_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    fs::write(&path, "[[micro_credential]]\nslug = \n").unwrap();
    let message = Catalogue::load_file(&path).unwrap_err().to_string();
    assert!(
        message.starts_with("invalid TOML catalogue in "),
        "{message}"
    );
    assert!(message.contains("broken.toml"), "{message}");
}

#[test]
fn load_file_reads_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checks.json");
    fs::write(&path, catalogue().to_json_string().unwrap()).unwrap();
    assert_eq!(Catalogue::load_file(&path).unwrap(), catalogue());
}

#[test]
fn load_dir_skips_other_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b.toml"), small_toml("second")).unwrap();
    fs::write(dir.path().join("a.toml"), small_toml("first")).unwrap();
    fs::write(dir.path().join("README.md"), "not a catalogue").unwrap();
    fs::create_dir(dir.path().join("drafts.toml")).unwrap();
    let loaded = Catalogue::load_dir(dir.path()).unwrap();
    let slugs: Vec<&str> = loaded
        .micro_credentials
        .iter()
        .map(|c| c.slug.as_str())
        .collect();
    assert_eq!(slugs, vec!["first", "second"]);
}

#[test]
fn load_dir_duplicate_slug_across_files_rejected() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.toml"), small_toml("checks")).unwrap();
    fs::write(dir.path().join("b.toml"), small_toml("checks")).unwrap();
    let problems = invalid_problems(Catalogue::load_dir(dir.path()).unwrap_err());
    assert_eq!(
        problems,
        vec!["file \"b.toml\" > micro_credential \"checks\": slug \"checks\" is already used in file \"a.toml\"".to_owned()]
    );
}

#[test]
fn load_dir_prefixes_problem_paths_with_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = small_toml("checks").replace("ceus = 2.0", "ceus = 101.0");
    fs::write(dir.path().join("checks.toml"), text).unwrap();
    let problems = invalid_problems(Catalogue::load_dir(dir.path()).unwrap_err());
    assert_eq!(
        problems,
        vec!["file \"checks.toml\" > micro_credential \"checks\": ceus is 101, more than the maximum of 100".to_owned()]
    );
}

#[test]
fn load_dir_empty_folder_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let problems = invalid_problems(Catalogue::load_dir(dir.path()).unwrap_err());
    assert_eq!(
        problems,
        vec![format!(
            ": the folder {} has no .toml or .json catalogue files",
            dir.path().display()
        )]
    );
}

#[test]
fn load_dir_missing_folder_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let error = Catalogue::load_dir(&dir.path().join("absent")).unwrap_err();
    assert!(matches!(error, CatalogueError::Read { .. }), "{error:?}");
}
