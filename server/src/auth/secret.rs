//! Secrets: random ones from the OS generator, and the digests stored in their place. A leaf of
//! `auth`, so that passwords (a dummy hash) and credentials (tokens, sessions) both use it
//! without using each other.
use rand::{distributions::Alphanumeric, Rng};
use sha2::{Digest, Sha256};

/// A random alphanumeric string of `len` characters from the OS generator.
pub fn random_secret(len: usize) -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The SHA-256 digest a secret is stored as.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_alphanumeric_of_their_length_and_differ() {
        let (a, b) = (random_secret(40), random_secret(40));
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        // sha256("abc"), the FIPS 180-2 example.
        assert_eq!(
            hex::encode(digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
