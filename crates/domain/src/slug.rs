//! Organization slugs: the short, URL-safe names users type and links carry.

use std::fmt;

/// Why a string is not an acceptable slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a slug has 1 to 63 characters")]
    Length,
    #[error("a slug uses lower-case letters, digits and inner hyphens only")]
    Characters,
}

/// 1–63 characters of `a-z`, `0-9` and `-`, not starting or ending with `-`: the same rule as
/// the database's check constraint on `organizations.slug`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        if input.is_empty() || input.len() > 63 {
            return Err(SlugError::Length);
        }
        let allowed = input
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !allowed || input.starts_with('-') || input.ends_with('-') {
            return Err(SlugError::Characters);
        }
        Ok(Slug(input.to_owned()))
    }

    /// A slug suggested from a display name ("Acme Shoes GmbH" → "acme-shoes-gmbh"), or `None`
    /// when the name has no letters or digits to build one from.
    pub fn suggest(name: &str) -> Option<Self> {
        let mut slug = String::new();
        for c in name.to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= 63 {
                break;
            }
        }
        let trimmed = slug.trim_end_matches('-');
        Slug::parse(trimmed).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_become_readable_slugs() {
        assert_eq!(
            Slug::suggest("Acme Shoes GmbH").unwrap().as_str(),
            "acme-shoes-gmbh"
        );
        assert_eq!(
            Slug::suggest("  --Demo   Store!! ").unwrap().as_str(),
            "demo-store"
        );
        assert_eq!(Slug::suggest("!!!"), None);
    }

    #[test]
    fn invalid_slugs_are_refused() {
        assert_eq!(Slug::parse(""), Err(SlugError::Length));
        assert_eq!(Slug::parse(&"a".repeat(64)), Err(SlugError::Length));
        for bad in ["-demo", "demo-", "Demo", "de mo", "démo", "de_mo"] {
            assert_eq!(Slug::parse(bad), Err(SlugError::Characters), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_suggestion_is_a_valid_slug(name in "\\PC{0,120}") {
            if let Some(slug) = Slug::suggest(&name) {
                prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
            }
        }

        #[test]
        fn valid_slugs_round_trip(slug in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            let parsed = Slug::parse(&slug).unwrap();
            prop_assert_eq!(parsed.as_str(), slug.as_str());
        }
    }
}
