//! Passwords and bearer tokens: argon2id hashes, 32 random bytes, SHA-256 at rest.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Hashes a password with argon2id (the crate's recommended parameters), as a PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches `hash`. A stored value that is not a PHC string (a
/// disabled or seeded operator) matches nothing, after the same work as a real check.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            burn_verification(password);
            false
        }
    }
}

/// A real hash of nothing anyone knows, so that checking a password for an unknown
/// e-mail takes as long as checking a known one.
static DECOY: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    hash_password(&URL_SAFE_NO_PAD.encode(secret)).ok()
});

/// Spends the time of one password check, for callers that have nothing to check.
pub(crate) fn burn_verification(password: &str) {
    if let Some(Ok(parsed)) = DECOY.as_deref().map(PasswordHash::new) {
        let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
    }
}

/// A new bearer token: 32 random bytes, base64url without padding.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a token: its SHA-256, lowercase hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapler", &hash));
    }

    #[test]
    fn a_stored_value_that_is_not_a_hash_matches_nothing() {
        assert!(!verify_password("", "!seeded: no password"));
        assert!(!verify_password(
            "!seeded: no password",
            "!seeded: no password"
        ));
    }

    #[test]
    fn tokens_are_32_random_bytes_stored_as_sha256_hex() {
        let token = new_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_ne!(token, new_token());
        let hash = token_hash(&token);
        assert_eq!(hash.len(), 64);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
