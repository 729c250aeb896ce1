//! Opaque secrets handed to clients: refresh tokens, API keys and invitation tokens.
//!
//! Format: `sl{kind}_{org id, 32 hex}_{43 chars of base64url: 256 random bits}`. The
//! organization travels in clear so the lookup runs inside that tenant's scope (row-level
//! security never has to be opened across tenants); only the SHA-256 of the whole secret is
//! stored, so a database leak yields no usable credential.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use password_hash::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::backend::tenant::OrgId;

/// What a secret is for; part of its text, so one kind can never be used as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    RefreshToken,
    ApiKey,
    Invitation,
}

impl SecretKind {
    fn tag(self) -> &'static str {
        match self {
            SecretKind::RefreshToken => "slr",
            SecretKind::ApiKey => "slk",
            SecretKind::Invitation => "sli",
        }
    }
}

/// A secret as issued: show `text` to the client once, store `hash`.
pub struct IssuedSecret {
    pub text: String,
    pub hash: [u8; 32],
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedSecret(…)")
    }
}

/// Makes a new secret of `kind` for `org_id`.
pub fn issue(kind: SecretKind, org_id: OrgId) -> IssuedSecret {
    let mut random = [0u8; 32];
    OsRng.fill_bytes(&mut random);
    let text = format!(
        "{}_{}_{}",
        kind.tag(),
        org_id.0.simple(),
        URL_SAFE_NO_PAD.encode(random)
    );
    let hash = hash(&text);
    IssuedSecret { text, hash }
}

/// A presented secret, parsed: the organization it claims and the hash to look it up by.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedSecret {
    pub org_id: OrgId,
    pub hash: [u8; 32],
}

/// Reads a secret a client presented. `None` for anything not shaped like a secret of `kind`
/// (answered as invalid credentials, without a database lookup).
pub fn parse(kind: SecretKind, text: &str) -> Option<PresentedSecret> {
    // The random part is base64url, whose alphabet includes `_`: split off two fields only.
    let mut parts = text.splitn(3, '_');
    let (tag, org, random) = (parts.next()?, parts.next()?, parts.next()?);
    if tag != kind.tag() || org.len() != 32 || random.len() != 43 {
        return None;
    }
    let org_id = Uuid::try_parse(org).ok()?;
    let decoded = URL_SAFE_NO_PAD.decode(random).ok()?;
    (decoded.len() == 32).then(|| PresentedSecret {
        org_id: OrgId(org_id),
        hash: hash(text),
    })
}

/// The first characters of an API key, shown in lists to tell keys apart.
pub fn display_prefix(text: &str) -> String {
    let random_part = text.splitn(3, '_').nth(2).unwrap_or_default();
    format!("slk_…{}", &random_part[..random_part.len().min(6)])
}

fn hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn org() -> OrgId {
        OrgId(Uuid::new_v4())
    }

    #[test]
    fn an_issued_secret_parses_back_to_its_org_and_hash() {
        let org_id = org();
        let issued = issue(SecretKind::ApiKey, org_id);

        let presented = parse(SecretKind::ApiKey, &issued.text).unwrap();

        assert_eq!(
            presented,
            PresentedSecret {
                org_id,
                hash: issued.hash
            }
        );
        assert!(issued.text.starts_with("slk_"));
    }

    #[test]
    fn a_secret_of_one_kind_is_not_accepted_as_another() {
        let issued = issue(SecretKind::RefreshToken, org());
        assert_eq!(parse(SecretKind::ApiKey, &issued.text), None);
        assert_eq!(parse(SecretKind::Invitation, &issued.text), None);
    }

    #[test]
    fn every_issued_secret_parses_whatever_its_random_characters() {
        // Base64url uses `_`; about half of all secrets contain one.
        let org_id = org();
        for _ in 0..500 {
            let issued = issue(SecretKind::RefreshToken, org_id);
            assert!(
                parse(SecretKind::RefreshToken, &issued.text).is_some(),
                "{}",
                issued.text
            );
        }
    }

    #[test]
    fn two_secrets_never_repeat() {
        let org_id = org();
        assert_ne!(
            issue(SecretKind::ApiKey, org_id).text,
            issue(SecretKind::ApiKey, org_id).text
        );
    }

    #[test]
    fn the_display_prefix_reveals_at_most_six_random_characters() {
        let issued = issue(SecretKind::ApiKey, org());
        let prefix = display_prefix(&issued.text);
        assert_eq!(prefix.chars().count(), "slk_…".chars().count() + 6);
        assert!(!prefix.contains(&issued.text[4..36]), "the org id is not shown");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn changing_any_character_changes_the_hash_or_breaks_the_format(position in 0usize..79, replacement in "[a-zA-Z0-9_-]") {
            let issued = issue(SecretKind::RefreshToken, org());
            let mut chars: Vec<char> = issued.text.chars().collect();
            prop_assume!(chars[position].to_string() != replacement);
            chars[position] = replacement.chars().next().unwrap();
            let tampered: String = chars.into_iter().collect();
            if let Some(presented) = parse(SecretKind::RefreshToken, &tampered) {
                prop_assert_ne!(presented.hash, issued.hash);
            }
        }

        #[test]
        fn arbitrary_text_never_panics_the_parser(text in "\\PC{0,120}") {
            let _ = parse(SecretKind::ApiKey, &text);
        }
    }
}
