//! Every NDJSON event the tests see is validated against the published schema
//! (`docs/events.schema.json`), so the schema and the stream cannot drift apart.

use std::sync::OnceLock;

use serde_json::Value;

use super::emulator::repo;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = repo().join("docs/events.schema.json");
        let text = std::fs::read_to_string(&path).expect("docs/events.schema.json");
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("a valid JSON Schema")
    })
}

/// Validates every line of `ndjson` that is an event (an object with `"event"`); panics naming the
/// line and what is wrong with it. Returns how many events were checked.
#[track_caller]
pub fn check_events(ndjson: &str) -> usize {
    let mut checked = 0;
    for line in ndjson.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v.get("event").is_none() {
            continue;
        }
        let errors: Vec<String> = validator()
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "event does not match docs/events.schema.json: {errors:?}\n{line}"
        );
        checked += 1;
    }
    checked
}
