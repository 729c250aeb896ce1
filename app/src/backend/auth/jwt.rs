//! Access tokens: HS256 JWTs, one hour, naming a person and the organization they act in.
//!
//! Every token carries the id of the key that signed it (`kid`). Rotating the secret keeps the
//! previous keys for verification only, so tokens issued just before a rotation stay valid
//! until they expire. Only HS256 is accepted: `alg: none` and algorithm swaps are refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::backend::tenant::{OrgId, UserId};

/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
const ISSUER: &str = "sightline";
const AUDIENCE: &str = "sightline-api";
/// HS256 needs at least as many bytes of key as the hash has.
pub const MIN_SECRET_BYTES: usize = 32;

/// A random secret for a server started without `SIGHTLINE_JWT_SECRET`.
pub fn random_secret() -> SecretString {
    use base64::Engine;
    use password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 48];
    OsRng.fill_bytes(&mut bytes);
    SecretString::from(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A signing secret and the id tokens name it by.
pub struct SigningKey {
    pub id: String,
    pub secret: SecretString,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub org: Uuid,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
}

impl AccessClaims {
    pub fn user_id(&self) -> UserId {
        UserId(self.sub)
    }

    pub fn org_id(&self) -> OrgId {
        OrgId(self.org)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("a signing secret must be at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    #[error("the token is invalid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
}

/// The current signing key and the previous keys still accepted for verification.
pub struct KeyRing {
    current_id: String,
    encoding: EncodingKey,
    decoding: Vec<(String, DecodingKey)>,
}

impl KeyRing {
    pub fn new(current: SigningKey, previous: Vec<SigningKey>) -> Result<Self, TokenError> {
        let mut decoding = Vec::new();
        for key in std::iter::once(&current).chain(&previous) {
            if key.secret.expose_secret().len() < MIN_SECRET_BYTES {
                return Err(TokenError::WeakSecret);
            }
            decoding.push((
                key.id.clone(),
                DecodingKey::from_secret(key.secret.expose_secret().as_bytes()),
            ));
        }
        Ok(KeyRing {
            encoding: EncodingKey::from_secret(current.secret.expose_secret().as_bytes()),
            current_id: current.id,
            decoding,
        })
    }

    /// A signed access token for `user` in `org`, valid from `now` for an hour.
    pub fn issue(&self, user: UserId, org: OrgId, now: SystemTime) -> String {
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = AccessClaims {
            sub: user.0,
            org: org.0,
            iat,
            exp: iat + ACCESS_TOKEN_TTL.as_secs(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let header = Header {
            kid: Some(self.current_id.clone()),
            ..Header::new(Algorithm::HS256)
        };
        encode(&header, &claims, &self.encoding).expect("HS256 signing with a valid key cannot fail")
    }

    /// The claims of a token this server signed and that has not expired.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (_, key) = self
            .decoding
            .iter()
            .find(|(id, _)| *id == kid)
            .ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        decode::<AccessClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use proptest::prelude::*;

    fn key(id: &str, secret: &str) -> SigningKey {
        SigningKey {
            id: id.into(),
            secret: SecretString::from(secret.repeat(4)),
        }
    }

    fn ring() -> KeyRing {
        KeyRing::new(key("k2", "current-secret-"), vec![key("k1", "previous-secret")]).unwrap()
    }

    fn ids() -> (UserId, OrgId) {
        (UserId(Uuid::new_v4()), OrgId(Uuid::new_v4()))
    }

    #[test]
    fn an_issued_token_verifies_to_its_person_and_organization() {
        let (user, org) = ids();
        let claims = ring()
            .verify(&ring().issue(user, org, SystemTime::now()))
            .unwrap();
        assert_eq!((claims.user_id(), claims.org_id()), (user, org));
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[test]
    fn tokens_signed_with_the_previous_key_still_verify_after_a_rotation() {
        let (user, org) = ids();
        let before = KeyRing::new(key("k1", "previous-secret"), vec![]).unwrap();
        let token = before.issue(user, org, SystemTime::now());
        assert_eq!(ring().verify(&token).unwrap().user_id(), user);
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let (user, org) = ids();
        let token = ring().issue(user, org, SystemTime::now() - Duration::from_secs(3700));
        assert_eq!(ring().verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_from_another_secret_or_with_an_unknown_key_id_is_refused() {
        let (user, org) = ids();
        let stranger = KeyRing::new(key("k2", "someone-else's"), vec![]).unwrap();
        assert_eq!(
            ring().verify(&stranger.issue(user, org, SystemTime::now())),
            Err(TokenError::Invalid)
        );
        let unknown_kid = KeyRing::new(key("k9", "current-secret-"), vec![]).unwrap();
        assert_eq!(
            ring().verify(&unknown_kid.issue(user, org, SystemTime::now())),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let (user, org) = ids();
        let token = ring().issue(user, org, SystemTime::now());
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k2"}"#);
        assert_eq!(
            ring().verify(&format!("{header}.{payload}.")),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_wrong_issuer_or_audience_is_refused() {
        let (user, org) = ids();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        for (iss, aud) in [("someone-else", AUDIENCE), (ISSUER, "another-api")] {
            let claims = AccessClaims {
                sub: user.0,
                org: org.0,
                iat: now,
                exp: now + 60,
                iss: iss.into(),
                aud: aud.into(),
            };
            let header = Header {
                kid: Some("k2".into()),
                ..Header::new(Algorithm::HS256)
            };
            let key = EncodingKey::from_secret("current-secret-".repeat(4).as_bytes());
            let token = encode(&header, &claims, &key).unwrap();
            assert_eq!(ring().verify(&token), Err(TokenError::Invalid), "{iss} {aud}");
        }
    }

    #[test]
    fn short_secrets_are_refused_at_start() {
        let weak = SigningKey {
            id: "k1".into(),
            secret: SecretString::from("short"),
        };
        assert!(matches!(KeyRing::new(weak, vec![]), Err(TokenError::WeakSecret)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_change_to_a_token_makes_it_invalid(position in 0usize..400, replacement in "[A-Za-z0-9_.-]") {
            let (user, org) = ids();
            let token = ring().issue(user, org, SystemTime::now());
            prop_assume!(position < token.len());
            let mut bytes = token.clone().into_bytes();
            prop_assume!(bytes[position] != replacement.as_bytes()[0]);
            bytes[position] = replacement.as_bytes()[0];
            let tampered = String::from_utf8(bytes).unwrap();
            // Flipping only the unused low bits of the last base64 character can decode to the
            // same signature; anything that still verifies must carry the original claims.
            if let Ok(claims) = ring().verify(&tampered) {
                prop_assert_eq!((claims.user_id(), claims.org_id()), (user, org));
            }
        }
    }
}
