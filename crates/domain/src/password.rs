//! Password policy (SPEC AUTH-1): at least 12 characters, at most 256 (hashing cost is
//! bounded), not a known common password (case-insensitive), not the account's own email.

use std::collections::HashSet;
use std::io::Read;
use std::sync::LazyLock;

/// The shortest password accepted, in characters.
pub const MIN_CHARS: usize = 12;
/// The longest password accepted, in characters: keeps argon2's work per request bounded.
pub const MAX_CHARS: usize = 256;

/// Why a password is refused. Messages are written to be shown to the user as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("use at least {MIN_CHARS} characters")]
    TooShort,
    #[error("use at most {MAX_CHARS} characters")]
    TooLong,
    #[error("this password is one of the most common ones; choose another")]
    Common,
    #[error("the password must not be your email address")]
    SameAsEmail,
}

static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut text = String::new();
    flate2::read::GzDecoder::new(&include_bytes!("../data/common-passwords.txt.gz")[..])
        .read_to_string(&mut text)
        .expect("the bundled password list is valid gzip and UTF-8");
    text.lines()
        .map(|line| line.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect()
});

/// How many common passwords are refused (the bundled list's size).
pub fn common_password_count() -> usize {
    COMMON_PASSWORDS.len()
}

/// Checks `password` for an account signing in as `email`.
pub fn check_password(password: &str, email: &str) -> Result<(), PasswordRejection> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordRejection::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordRejection::TooLong);
    }
    let folded = password.trim().to_lowercase();
    if COMMON_PASSWORDS.contains(&folded) {
        return Err(PasswordRejection::Common);
    }
    if !email.is_empty() && folded == email.trim().to_lowercase() {
        return Err(PasswordRejection::SameAsEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_bundled_list_has_at_least_ten_thousand_entries() {
        assert!(common_password_count() >= 10_000, "{}", common_password_count());
    }

    #[test]
    fn long_common_passwords_are_refused_in_any_case() {
        // Both are on the list and long enough to pass the length rule.
        assert_eq!(check_password("1q2w3e4r5t6y", ""), Err(PasswordRejection::Common));
        assert_eq!(check_password("QWERTY123456", ""), Err(PasswordRejection::Common));
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        assert_eq!(
            check_password("ééééééééééé", ""),
            Err(PasswordRejection::TooShort)
        ); // 11 chars, 22 bytes
        assert!(check_password("éééééééééééé", "").is_ok()); // 12 chars
        assert_eq!(
            check_password(&"x".repeat(MAX_CHARS + 1), ""),
            Err(PasswordRejection::TooLong)
        );
    }

    #[test]
    fn the_account_email_is_not_a_password() {
        assert_eq!(
            check_password("Merchant@Example.com", "merchant@example.com"),
            Err(PasswordRejection::SameAsEmail)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn anything_shorter_than_the_minimum_is_refused(p in "\\PC{0,11}") {
            prop_assert_eq!(check_password(&p, ""), Err(PasswordRejection::TooShort));
        }

        #[test]
        fn long_random_passphrases_are_accepted(p in "[a-zA-Z0-9 ]{8,30}-[a-z]{4}-[0-9]{4}") {
            prop_assert_eq!(check_password(&p, "someone@example.com"), Ok(()));
        }
    }
}
