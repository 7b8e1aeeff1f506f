//! [`SessionData`]: the operations both kinds of session share, and Pyramid's flash and
//! CSRF helpers built on them.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value;
use subtle::ConstantTimeEq;

use super::{CookieSession, CSRF_KEY, FLASH_PREFIX};
use crate::error::{RandomError, ValueError};
use crate::random::RandomSource;

/// A read-modify-write function over one session value.
pub type Modifier = alloc::boxed::Box<dyn Fn(Option<&Value>) -> Option<Value> + Send + Sync>;

/// The operations cookie-mode [`CookieSession`] and server-mode
/// [`crate::server::ServerSession`] share, and Pyramid's flash and CSRF helpers built on
/// them (so both kinds of session behave alike).
pub trait SessionData {
    /// Reads a value — an accessor.
    fn get(&mut self, key: &str) -> Option<&Value>;
    /// Sets a value — a mutator.
    fn insert(&mut self, key: &str, value: Value);
    /// Read-modify-write of one value — a mutator (`None` from `f` removes the key).
    /// Returns the new value.
    fn modify(&mut self, key: &str, f: Modifier) -> Option<Value>;

    /// A value as a `T` (any `serde` type) — an accessor. `Ok(None)` when absent; a
    /// [`ValueError`] when the stored value is not a `T`.
    ///
    /// ```
    /// use pyramid_session::{CookieSession, SessionConfig, SessionData};
    /// let config = SessionConfig::pyramid("s").build()?;
    /// let mut session = CookieSession::load(&config, None, 1_700_000_000.0);
    /// session.insert_as("visits", &3u32)?;
    /// assert_eq!(session.get_as::<u32>("visits")?, Some(3));
    /// assert!(session.get_as::<String>("visits").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn get_as<T: serde::de::DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, ValueError>
    where
        Self: Sized,
    {
        match self.get(key) {
            None => Ok(None),
            Some(value) => T::deserialize(value).map(Some).map_err(|e| ValueError {
                key: key.to_string(),
                reading: true,
                message: e.to_string(),
            }),
        }
    }

    /// Stores any `serde` value (as JSON) — a mutator. A [`ValueError`] when serde
    /// cannot write it as JSON (a map with non-string keys, a failing `Serialize`).
    fn insert_as<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), ValueError>
    where
        Self: Sized,
    {
        let value = serde_json::to_value(value).map_err(|e| ValueError {
            key: key.to_string(),
            reading: false,
            message: e.to_string(),
        })?;
        self.insert(key, value);
        Ok(())
    }

    /// `session.flash(msg, queue, allow_duplicate)` — a mutator, even when a duplicate is
    /// skipped. A non-list value already at the queue's key is replaced by a new queue.
    fn flash(&mut self, msg: Value, queue: &str, allow_duplicate: bool) {
        self.modify(
            &flash_key(queue),
            alloc::boxed::Box::new(move |old: Option<&Value>| {
                let mut list = match old {
                    Some(Value::Array(list)) => list.clone(),
                    _ => Vec::new(),
                };
                if allow_duplicate || !list.contains(&msg) {
                    list.push(msg.clone());
                }
                Some(Value::Array(list))
            }),
        );
    }
    /// `session.pop_flash(queue)` — a mutator, even when the queue is empty. Returns the
    /// queue's messages.
    fn pop_flash(&mut self, queue: &str) -> Vec<Value> {
        let key = flash_key(queue);
        let taken = match self.get(&key).cloned() {
            Some(Value::Array(list)) => list,
            Some(other) => alloc::vec![other],
            None => Vec::new(),
        };
        // Remove exactly the messages returned: replayed on a fresher state (server mode,
        // after a lost compare-and-set), messages a concurrent request added stay queued.
        let shown = taken.clone();
        self.modify(
            &key,
            alloc::boxed::Box::new(move |current: Option<&Value>| match current {
                Some(Value::Array(list)) if list.starts_with(&shown) => {
                    let rest = &list[shown.len()..];
                    (!rest.is_empty()).then(|| Value::Array(rest.to_vec()))
                }
                Some(Value::Array(list)) => Some(Value::Array(list.clone())),
                _ => None,
            }),
        );
        taken
    }
    /// `session.peek_flash(queue)` — an accessor. Returns the queue's messages.
    fn peek_flash(&mut self, queue: &str) -> Vec<Value> {
        match self.get(&flash_key(queue)) {
            Some(Value::Array(list)) => list.clone(),
            Some(other) => alloc::vec![other.clone()],
            None => Vec::new(),
        }
    }
    /// `session.new_csrf_token()` — a mutator: 20 random bytes as 40 lowercase hex
    /// characters, stored at `_csrft_`.
    fn new_csrf_token(&mut self, rng: &mut impl RandomSource) -> Result<String, RandomError>
    where
        Self: Sized,
    {
        let mut bytes = [0u8; 20];
        rng.fill(&mut bytes)?;
        let mut token = String::with_capacity(40);
        crate::encoding::hex::push_hex(&bytes, &mut token);
        self.insert(CSRF_KEY, Value::String(token.clone()));
        Ok(token)
    }
    /// `session.get_csrf_token()` — an accessor that creates the token when missing.
    fn get_csrf_token(&mut self, rng: &mut impl RandomSource) -> Result<String, RandomError>
    where
        Self: Sized,
    {
        match self.get(CSRF_KEY) {
            Some(Value::String(token)) => Ok(token.clone()),
            _ => self.new_csrf_token(rng),
        }
    }
    /// Compares a token sent by the client with the session's, in constant time — an
    /// accessor. False when the session has no token.
    fn check_csrf_token(&mut self, supplied: &str) -> bool {
        match self.get(CSRF_KEY) {
            Some(Value::String(token)) => bool::from(token.as_bytes().ct_eq(supplied.as_bytes())),
            _ => false,
        }
    }
}

// The inherent methods of the same names (which they call) take precedence on the
// concrete type; the trait is what generic code and the helpers above use.
impl SessionData for CookieSession {
    fn get(&mut self, key: &str) -> Option<&Value> {
        CookieSession::get(self, key)
    }
    fn insert(&mut self, key: &str, value: Value) {
        CookieSession::insert(self, key, value);
    }
    fn modify(&mut self, key: &str, f: Modifier) -> Option<Value> {
        CookieSession::modify(self, key, f)
    }
}

fn flash_key(queue: &str) -> String {
    let mut key = FLASH_PREFIX.to_string();
    key.push_str(queue);
    key
}
