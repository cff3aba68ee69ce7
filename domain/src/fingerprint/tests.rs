use serde_json::json;

use serde_json::Value;

use super::{write_canonical, write_object};
use crate::catalogue::Catalogue;
use crate::test_support::credential;

fn canonical(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

#[test]
fn canonical_json_sorts_keys_at_every_depth() {
    let value = json!({"b": 1, "a": [{"z": true, "y": null}], "c": {"e": 2.5, "d": "x"}});
    assert_eq!(
        canonical(&value),
        r#"{"a":[{"y":null,"z":true}],"b":1,"c":{"d":"x","e":2.5}}"#
    );
}

#[test]
fn canonical_object_sorts_unsorted_entries() {
    let (b, a) = ("b".to_owned(), "a".to_owned());
    let (one, two) = (json!(1), json!(2));
    let entries: Vec<(&String, &Value)> = vec![(&b, &one), (&a, &two)];
    let mut out = String::new();
    write_object(entries, &mut out);
    assert_eq!(out, r#"{"a":2,"b":1}"#);
}

#[test]
fn canonical_json_escapes_strings() {
    let value = json!({"quote\"key": "line\nbreak \u{1} é"});
    assert_eq!(
        canonical(&value),
        r#"{"quote\"key":"line\nbreak \u0001 é"}"#
    );
}

#[test]
fn fingerprint_is_64_lowercase_hex() {
    let fingerprint = credential("checks").fingerprint();
    assert_eq!(fingerprint.as_str().len(), 64);
    assert!(fingerprint
        .as_str()
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(fingerprint.to_string(), fingerprint.as_str());
}

#[test]
fn fingerprint_same_for_equal_content() {
    let original = credential("checks");
    let copy = original.clone();
    assert_eq!(original.fingerprint(), copy.fingerprint());
    assert!(!copy.differs_from(&original.fingerprint()));
}

#[test]
fn fingerprint_changes_with_title() {
    let original = credential("checks");
    let mut edited = original.clone();
    edited.title.push('!');
    assert_ne!(original.fingerprint(), edited.fingerprint());
    assert!(edited.differs_from(&original.fingerprint()));
}

#[test]
fn fingerprint_changes_with_level_description() {
    let original = credential("checks");
    let mut edited = original.clone();
    edited.components[4].rubric.criteria[1].levels[3].description = "Changed.".into();
    assert_ne!(original.fingerprint(), edited.fingerprint());
}

#[test]
fn fingerprint_changes_with_ceus() {
    let original = credential("checks");
    let mut edited = original.clone();
    edited.ceus = 2.5;
    assert_ne!(original.fingerprint(), edited.fingerprint());
}

#[test]
fn fingerprint_changes_with_component_order() {
    let original = credential("checks");
    let mut edited = original.clone();
    edited.components.swap(0, 1);
    assert_ne!(original.fingerprint(), edited.fingerprint());
}

#[test]
fn fingerprint_ignores_toml_layout() {
    let definition = credential("checks");
    let text = Catalogue {
        micro_credentials: vec![definition.clone()],
    }
    .to_toml_string()
    .unwrap();
    // The same content with other spacing, a comment, and the top-level keys reordered.
    let relaid = text.replacen("slug = \"checks\"\n", "", 1).replacen(
        "[[micro_credential]]\n",
        "[[micro_credential]]\n# comment\nslug   =   \"checks\"\n",
        1,
    );
    assert_ne!(text, relaid);
    let reparsed = Catalogue::from_toml_str(&relaid).unwrap();
    assert_eq!(
        reparsed.micro_credentials[0].fingerprint(),
        definition.fingerprint()
    );
}

#[test]
fn fingerprint_serializes_as_plain_string() {
    let fingerprint = credential("checks").fingerprint();
    let json = serde_json::to_string(&fingerprint).unwrap();
    assert_eq!(json, format!("\"{}\"", fingerprint.as_str()));
}
