//! Values that one request leaves for the next request of the same flow on
//! this instance: a login's state for the id_token post that follows it,
//! a launch's session and the overview its participant lands on for its
//! first page. The next request then needs no database read. The database
//! stays the record: a request that finds nothing here, because it came to
//! another instance or later than the handoff's age, reads it, and each
//! value is given out only once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bounded map of values waiting for the request that follows.
pub struct Handoff<T> {
    entries: Mutex<HashMap<String, (Instant, T)>>,
    max_age: Duration,
    limit: usize,
}

impl<T> Handoff<T> {
    /// Keep values for `max_age`, and at most `limit` of them: when the map
    /// is full, old entries are pruned, and a new value that still finds no
    /// room is not kept (its request reads the database instead).
    pub fn new(max_age: Duration, limit: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), max_age, limit }
    }

    /// Keep `value` under `key` for the next request.
    pub fn put(&self, key: String, value: T) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.limit {
            let max_age = self.max_age;
            entries.retain(|_, (kept, _)| kept.elapsed() < max_age);
        }
        if entries.len() < self.limit {
            entries.insert(key, (Instant::now(), value));
        }
    }

    /// Take the value kept under `key` if it is younger than the handoff's
    /// age. A second take of the same key finds nothing.
    pub fn take(&self, key: &str) -> Option<T> {
        let (kept, value) = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(key)?;
        (kept.elapsed() < self.max_age).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_gives_a_value_once() {
        let handoff = Handoff::new(Duration::from_secs(10), 4);
        handoff.put("a".into(), 1);
        assert_eq!(handoff.take("a"), Some(1));
        assert_eq!(handoff.take("a"), None);
        assert_eq!(handoff.take("b"), None);
    }

    #[test]
    fn take_skips_an_old_value() {
        let handoff = Handoff::new(Duration::from_millis(20), 4);
        handoff.put("a".into(), 1);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(handoff.take("a"), None);
    }

    #[test]
    fn put_prunes_then_skips_when_full() {
        let handoff = Handoff::new(Duration::from_millis(30), 2);
        handoff.put("old".into(), 0);
        std::thread::sleep(Duration::from_millis(50));
        handoff.put("a".into(), 1);
        // Full: the old entry is pruned to make room.
        handoff.put("b".into(), 2);
        // Full of young entries: the new value is not kept.
        handoff.put("c".into(), 3);
        assert_eq!(handoff.take("c"), None);
        assert_eq!(handoff.take("a"), Some(1));
        assert_eq!(handoff.take("b"), Some(2));
        assert_eq!(handoff.take("old"), None);
    }
}
