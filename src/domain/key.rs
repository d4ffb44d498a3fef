//! API keys: how they look, what they allow, and how they are kept (a SHA-256 digest only).

use std::fmt;

use rand::RngExt;
use sha2::{Digest, Sha256};

use super::timestamp::Timestamp;
use super::{AccountId, ApiKeyId, Mode};

/// Random characters after the `rv_live_` / `rv_test_` prefix (the contract asks for 24+).
const SECRET_LENGTH: usize = 32;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a key may do: `read` allows GET; `read_write` allows every method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    ReadWrite,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadWrite => "read_write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "read_write" => Some(Scope::ReadWrite),
            _ => None,
        }
    }

    pub fn allows_writes(self) -> bool {
        self == Scope::ReadWrite
    }
}

/// The secret text of a key. Its `Debug` hides it so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    pub fn generate(mode: Mode) -> SecretKey {
        let mut rng = rand::rng();
        let body: String = (0..SECRET_LENGTH)
            .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
            .collect();
        SecretKey(format!("rv_{}_{body}", mode.as_str()))
    }

    /// Reads a presented key, checking only its shape; whether it exists is the store's word.
    pub fn from_presented(text: &str) -> Option<SecretKey> {
        let body = text
            .strip_prefix("rv_live_")
            .or_else(|| text.strip_prefix("rv_test_"))?;
        let well_formed = body.len() >= 24 && body.bytes().all(|b| b.is_ascii_alphanumeric());
        well_formed.then(|| SecretKey(text.to_owned()))
    }

    pub fn mode(&self) -> Mode {
        if self.0.starts_with("rv_live_") {
            Mode::Live
        } else {
            Mode::Test
        }
    }

    pub fn digest(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }

    pub fn last4(&self) -> String {
        self.0[self.0.len() - 4..].to_owned()
    }

    pub fn prefix(&self) -> &'static str {
        match self.mode() {
            Mode::Live => "rv_live_",
            Mode::Test => "rv_test_",
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A key as stored and listed: everything but the secret.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub account: AccountId,
    pub mode: Mode,
    pub scope: Scope,
    pub prefix: String,
    pub last4: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// A new key's record and its secret, which is shown once and never stored.
    pub fn issue(account: AccountId, mode: Mode, scope: Scope) -> (ApiKey, SecretKey) {
        let secret = SecretKey::generate(mode);
        let key = ApiKey {
            id: ApiKeyId::generate(),
            account,
            mode,
            scope,
            prefix: secret.prefix().to_owned(),
            last4: secret.last4(),
            created_at: Timestamp::now(),
            last_used_at: None,
            revoked_at: None,
        };
        (key, secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_mode_prefix_and_32_base62_characters() {
        let key = SecretKey::generate(Mode::Live);
        assert!(key.expose().starts_with("rv_live_"));
        assert_eq!(key.expose().len(), "rv_live_".len() + 32);
        assert_eq!(SecretKey::from_presented(key.expose()), Some(key.clone()));
        assert_eq!(key.mode(), Mode::Live);
    }

    #[test]
    fn malformed_keys_are_not_read() {
        for text in [
            "",
            "rv_live_",
            "rv_live_short",
            "sk_test_abcdefghijklmnopqrstuvwxyz",
            "rv_test_abcdefghijklmnopqrstuvw-",
        ] {
            assert_eq!(SecretKey::from_presented(text), None, "{text}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = SecretKey::generate(Mode::Test);
        assert!(!format!("{key:?}").contains(&key.expose()[8..]));
    }
}
