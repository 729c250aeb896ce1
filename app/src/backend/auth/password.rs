//! Password hashing with argon2id (OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane),
//! always on the blocking pool, never on the async executor.

use std::sync::LazyLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error("the hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: SecretString) -> Result<String, PasswordHashError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

fn hash_blocking(password: &SecretString) -> Result<String, PasswordHashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordHashError::Hash(e.to_string()))
}

/// A hash of a password nobody knows, verified when an email is unknown so that a wrong
/// email and a wrong password take the same time.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking(&SecretString::from("decoy password that is never accepted")).expect("argon2 hashes")
});

/// Whether `password` matches `stored` (a PHC string); with no stored hash, spends the same
/// effort and answers `false`.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, PasswordHashError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DECOY_HASH.clone());
        let matches = PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
    .map_err(PasswordHashError::Task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let stored = hash(SecretString::from("correct horse battery staple"))
            .await
            .unwrap();

        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify(
            SecretString::from("correct horse battery staple"),
            Some(stored.clone())
        )
        .await
        .unwrap());
        assert!(
            !verify(SecretString::from("correct horse battery stapler"), Some(stored))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies_even_with_the_decoy_password() {
        let verified = verify(SecretString::from("decoy password that is never accepted"), None)
            .await
            .unwrap();
        assert!(!verified);
    }

    #[tokio::test]
    async fn an_unknown_account_costs_about_as_much_as_a_wrong_password() {
        let stored = hash(SecretString::from("correct horse battery staple"))
            .await
            .unwrap();
        let _ = verify(SecretString::from("warm-up"), None).await; // builds the decoy once

        let mut known = std::time::Duration::MAX;
        let mut unknown = std::time::Duration::MAX;
        for _ in 0..3 {
            // The fastest of three runs: robust to other tests sharing the cores.
            let started = Instant::now();
            verify(SecretString::from("wrong password here"), Some(stored.clone()))
                .await
                .unwrap();
            known = known.min(started.elapsed());
            let started = Instant::now();
            verify(SecretString::from("wrong password here"), None)
                .await
                .unwrap();
            unknown = unknown.min(started.elapsed());
        }

        let ratio = unknown.as_secs_f64() / known.as_secs_f64();
        assert!(
            (0.5..2.0).contains(&ratio),
            "known {known:?} vs unknown {unknown:?}"
        );
    }
}
