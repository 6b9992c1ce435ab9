//! Argon2id password hashing, always off the async runtime (a verify costs tens of milliseconds).
use anyhow::Context;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use std::sync::LazyLock;

/// Verified against when the user does not exist, so that a wrong user name takes as long as a
/// wrong password and the response time does not reveal which names exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking(&super::secret::random_secret(16)).unwrap_or_default());

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .context("hashing task failed")?
}

/// Checks `password` against `hash`, or against a dummy hash when there is no user.
pub async fn verify(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            verify_blocking(&password, &DUMMY_HASH);
            false
        }
    })
    .await
    .context("password verification task failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = super::hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify("correct horse".into(), Some(hash.clone()))
            .await
            .expect("verify"));
        assert!(!verify("wrong".into(), Some(hash)).await.expect("verify"));
        assert!(!verify("anything".into(), None).await.expect("verify"));
        assert!(!verify("x".into(), Some("not a hash".into()))
            .await
            .expect("verify"));
    }
}
