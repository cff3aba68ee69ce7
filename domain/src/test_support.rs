//! A small valid definition for unit tests, built in code so each test can change one
//! field and check the one problem that change causes.

use chrono::{DateTime, TimeZone, Utc};

use crate::catalogue::{
    Catalogue, Citation, Component, LearningCourse, MicroCredential, ResearchBasis, SelfCheckItem,
};
use crate::rubric::{Criterion, Level, Rubric};
use crate::submission::{
    FileRequirement, LinkRequirement, ReflectionRequirement, SubmissionRequirements,
    TextRequirement,
};

pub fn level(key: &str) -> Level {
    Level {
        key: key.into(),
        label: format!("Label {key}"),
        description: format!("Work at level {key}."),
    }
}

pub fn criterion(key: &str) -> Criterion {
    Criterion {
        key: key.into(),
        title: format!("Criterion {key}"),
        mastery_level: "proficient".into(),
        levels: ["emerging", "developing", "proficient", "exemplary"]
            .into_iter()
            .map(level)
            .collect(),
    }
}

pub fn rubric() -> Rubric {
    Rubric {
        criteria: vec![criterion("alignment"), criterion("evidence")],
    }
}

pub fn requirements() -> SubmissionRequirements {
    SubmissionRequirements {
        text: Some(TextRequirement {
            required: true,
            min_words: Some(5),
            max_words: Some(20),
        }),
        files: Some(FileRequirement {
            required: false,
            max_count: 2,
        }),
        links: Some(LinkRequirement {
            required: false,
            max_count: 2,
        }),
        reflection: Some(ReflectionRequirement {
            prompt: "What would you change next time?".into(),
            required: true,
            min_words: Some(3),
            max_words: Some(10),
        }),
    }
}

pub fn component(key: &str) -> Component {
    Component {
        key: key.into(),
        title: format!("Component {key}"),
        prompt: format!("Do the work for {key}."),
        submission: requirements(),
        rubric: rubric(),
    }
}

pub fn credential(slug: &str) -> MicroCredential {
    MicroCredential {
        slug: slug.into(),
        title: "Checking for understanding".into(),
        competency: "The educator checks understanding and adjusts instruction.".into(),
        key_method: "Exit tickets.".into(),
        research: ResearchBasis {
            summary: "Formative assessment raises achievement.".into(),
            citations: vec![Citation {
                authors: "Author, A.".into(),
                year: 1998,
                title: "A title".into(),
                venue: "A journal, 1(1), 1-10".into(),
            }],
        },
        self_check_items: vec![
            SelfCheckItem {
                key: "goals".into(),
                statement: "I write learning goals.".into(),
            },
            SelfCheckItem {
                key: "criteria".into(),
                statement: "I write success criteria.".into(),
            },
        ],
        course: Some(LearningCourse {
            title: "Formative assessment basics".into(),
            url: "https://learn.example.org/formative".into(),
        }),
        ceus: 2.0,
        estimated_hours: 20,
        components: ["c1", "c2", "c3", "c4", "c5"]
            .into_iter()
            .map(component)
            .collect(),
    }
}

pub fn catalogue() -> Catalogue {
    Catalogue {
        micro_credentials: vec![credential("checks")],
    }
}

/// Returns noon UTC on the given day of January 2025.
pub fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, day, 12, 0, 0).unwrap()
}
