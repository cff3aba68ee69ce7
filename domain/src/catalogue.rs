//! Micro-credential definitions and the catalogue files that hold them.
//!
//! The file format is described in `CATALOGUE_FORMAT.md` at the root of this crate. Arrays
//! of tables use singular names (`micro_credential`, `component`, `citation`), which read
//! naturally as TOML headers such as `[[micro_credential.component]]`; the Rust fields have
//! plural names. Unknown keys are rejected, so a misspelled key fails to parse instead of
//! being ignored.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CatalogueError, Problem, ValidationError};
use crate::limits::{DEFAULT_CEUS, DEFAULT_ESTIMATED_HOURS};
use crate::rubric::Rubric;
use crate::submission::SubmissionRequirements;
use crate::validate;

/// A set of micro-credential definitions, as read from one or more files.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The definitions, in file order.
    #[serde(rename = "micro_credential", default)]
    pub micro_credentials: Vec<MicroCredential>,
}

/// One micro-credential: a skill an educator demonstrates through five components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroCredential {
    /// Stable identifier: lowercase letters, digits and single hyphens.
    pub slug: String,
    /// Title shown to educators.
    pub title: String,
    /// Competency statement: what the educator can do once the credential is earned.
    pub competency: String,
    /// Key method the educator applies.
    pub key_method: String,
    /// Research behind the method.
    pub research: ResearchBasis,
    /// Prior-knowledge self-check, ticked by the educator before starting.
    #[serde(rename = "self_check")]
    pub self_check_items: Vec<SelfCheckItem>,
    /// Learning course recommended when prior knowledge is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<LearningCourse>,
    /// Continuing education units awarded; at most two decimals.
    #[serde(default = "default_ceus")]
    pub ceus: f64,
    /// Estimated hours of work.
    #[serde(default = "default_estimated_hours")]
    pub estimated_hours: u32,
    /// The components (assignments); exactly five in a valid definition.
    #[serde(rename = "component")]
    pub components: Vec<Component>,
}

/// Research basis of a micro-credential's method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResearchBasis {
    /// Summary of what the research found.
    pub summary: String,
    /// Works cited.
    #[serde(rename = "citation")]
    pub citations: Vec<Citation>,
}

/// One cited work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citation {
    /// Authors as they appear in a reference list, for example `Black, P., & Wiliam, D.`.
    pub authors: String,
    /// Year of publication.
    pub year: u16,
    /// Title of the work.
    pub title: String,
    /// Journal with volume and pages, or publisher.
    pub venue: String,
}

/// One statement of the prior-knowledge self-check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckItem {
    /// Stable identifier, stored when the educator ticks the statement.
    pub key: String,
    /// Statement the educator ticks when it is true for them.
    pub statement: String,
}

/// A learning course linked from a micro-credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningCourse {
    /// Course title.
    pub title: String,
    /// Absolute http or https URL of the course.
    pub url: String,
}

/// One component (assignment) of a micro-credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Stable identifier, unique within the micro-credential.
    pub key: String,
    /// Title shown to educators.
    pub title: String,
    /// Task shown to the educator.
    pub prompt: String,
    /// Parts the educator submits, with their limits.
    pub submission: SubmissionRequirements,
    /// Rubric the submission is assessed against.
    pub rubric: Rubric,
}

fn default_ceus() -> f64 {
    DEFAULT_CEUS
}

fn default_estimated_hours() -> u32 {
    DEFAULT_ESTIMATED_HOURS
}

impl MicroCredential {
    /// Returns the component with this key.
    pub fn component(&self, key: &str) -> Option<&Component> {
        self.components
            .iter()
            .find(|component| component.key == key)
    }

    /// Checks every rule and returns all problems found.
    pub fn validate(&self) -> Result<(), ValidationError> {
        into_result(validate::micro_credential_problems(self, 0))
    }
}

impl Catalogue {
    /// Returns the micro-credential with this slug.
    pub fn get(&self, slug: &str) -> Option<&MicroCredential> {
        self.micro_credentials
            .iter()
            .find(|credential| credential.slug == slug)
    }

    /// Checks every rule, slugs unique across the catalogue included, and returns all
    /// problems found.
    pub fn validate(&self) -> Result<(), ValidationError> {
        into_result(validate::catalogue_problems(self))
    }

    /// Parses a TOML catalogue and validates it.
    pub fn from_toml_str(text: &str) -> Result<Self, CatalogueError> {
        let catalogue = parse_toml(text, None)?;
        catalogue.validate()?;
        Ok(catalogue)
    }

    /// Parses a JSON catalogue and validates it.
    pub fn from_json_str(text: &str) -> Result<Self, CatalogueError> {
        let catalogue = parse_json(text, None)?;
        catalogue.validate()?;
        Ok(catalogue)
    }

    /// Writes the catalogue as TOML in the format that [`Catalogue::from_toml_str`] reads.
    pub fn to_toml_string(&self) -> Result<String, CatalogueError> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Writes the catalogue as pretty-printed JSON.
    pub fn to_json_string(&self) -> Result<String, CatalogueError> {
        serde_json::to_string_pretty(self).map_err(CatalogueError::WriteJson)
    }

    /// Reads one `.toml` or `.json` catalogue file and validates it.
    pub fn load_file(path: &Path) -> Result<Self, CatalogueError> {
        let catalogue = read_file(path)?;
        catalogue.validate()?;
        Ok(catalogue)
    }

    /// Reads every `.toml` and `.json` file in a folder, in file name order, into one
    /// catalogue and validates it. Other files and subfolders are skipped.
    ///
    /// A file that fails to parse ends the load with that file's error. Otherwise every
    /// problem in every file is returned, each path starting with the file name, and a slug
    /// defined in two files is reported on the second one.
    pub fn load_dir(dir: &Path) -> Result<Self, CatalogueError> {
        let read_error = |source| CatalogueError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in fs::read_dir(dir).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            if path.is_file() && catalogue_format(&path).is_some() {
                files.push(path);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(ValidationError {
                problems: vec![Problem {
                    path: String::new(),
                    message: format!(
                        "the folder {} has no .toml or .json catalogue files",
                        dir.display()
                    ),
                    fix: "add a catalogue file, or point to the folder that has them".into(),
                }],
            }
            .into());
        }

        let mut merged = Catalogue::default();
        let mut problems = Vec::new();
        let mut first_file_of_slug: HashMap<String, String> = HashMap::new();
        for path in &files {
            let file_name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let catalogue = read_file(path)?;
            for mut problem in validate::catalogue_problems(&catalogue) {
                problem.path = prefix_path(&file_name, &problem.path);
                problems.push(problem);
            }
            for credential in &catalogue.micro_credentials {
                let slug = &credential.slug;
                if slug.is_empty() {
                    continue;
                }
                if let Some(first_file) = first_file_of_slug.get(slug) {
                    if first_file != &file_name {
                        problems.push(Problem {
                            path: prefix_path(&file_name, &format!("micro_credential \"{slug}\"")),
                            message: format!(
                                "slug \"{slug}\" is already used in file \"{first_file}\""
                            ),
                            fix: "give each micro-credential a slug that no other file uses".into(),
                        });
                    }
                } else {
                    first_file_of_slug.insert(slug.clone(), file_name.clone());
                }
            }
            merged.micro_credentials.extend(catalogue.micro_credentials);
        }
        into_result(problems)?;
        Ok(merged)
    }
}

#[derive(Clone, Copy)]
enum Format {
    Toml,
    Json,
}

fn catalogue_format(path: &Path) -> Option<Format> {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("toml") => Some(Format::Toml),
        Some("json") => Some(Format::Json),
        _ => None,
    }
}

fn read_file(path: &Path) -> Result<Catalogue, CatalogueError> {
    let format = catalogue_format(path).ok_or_else(|| CatalogueError::UnsupportedFormat {
        path: path.to_path_buf(),
    })?;
    let text = fs::read_to_string(path).map_err(|source| CatalogueError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    match format {
        Format::Toml => parse_toml(&text, Some(path)),
        Format::Json => parse_json(&text, Some(path)),
    }
}

fn parse_toml(text: &str, path: Option<&Path>) -> Result<Catalogue, CatalogueError> {
    toml::from_str(text).map_err(|source| CatalogueError::Toml {
        path: path.map(Path::to_path_buf),
        source,
    })
}

fn parse_json(text: &str, path: Option<&Path>) -> Result<Catalogue, CatalogueError> {
    serde_json::from_str(text).map_err(|source| CatalogueError::Json {
        path: path.map(Path::to_path_buf),
        source,
    })
}

fn prefix_path(file_name: &str, path: &str) -> String {
    if path.is_empty() {
        format!("file \"{file_name}\"")
    } else {
        format!("file \"{file_name}\" > {path}")
    }
}

fn into_result(problems: Vec<Problem>) -> Result<(), ValidationError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { problems })
    }
}

#[cfg(test)]
mod tests;
