//! Typed settings, read once at start from the environment (and `.env`, loaded by `main`).
//! Every variable is documented in `.env.example`; a bad value stops the process with the
//! variable's name rather than surfacing later as a confusing runtime error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};

pub use crate::rate_limit::LimitSettings;
use sqlx::postgres::PgConnectOptions;

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{var} is required: {hint}")]
    Missing { var: &'static str, hint: &'static str },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "pretty" | "text" | "" => Ok(LogFormat::Pretty),
            other => Err(format!("expected `json` or `pretty`, got `{other}`")),
        }
    }
}

/// Where the database is and how the application reaches it.
#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    /// A role that may create the database and Sightline's roles, and that runs migrations
    /// (through the owner role). Never used to serve requests.
    pub admin: PgConnectOptions,
    /// Password of the request-serving role, for servers that do not trust local connections.
    pub app_password: Option<SecretString>,
    /// Upper bound on the request-serving pool.
    pub max_connections: u32,
}

/// Everything `sightline` needs to know about its surroundings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub database: DatabaseSettings,
    pub redis_url: Option<SecretString>,
    pub log_format: LogFormat,
    /// Folder holding the built site: `pkg/` with the WASM, JS and CSS, plus public assets.
    pub site_root: PathBuf,
    /// Folder holding the sentiment model and ONNX Runtime (`minilm/`, `onnxruntime/`), as the
    /// set-up step installs them; without them texts are scored by the lexicon scorer.
    pub text_dir: PathBuf,
    pub jwt: JwtSettings,
    pub limits: LimitSettings,
    /// Whether session cookies are marked `Secure` (sent over HTTPS only). Off only for local
    /// plain-HTTP use.
    pub secure_cookies: bool,
    /// How long a background job's claim lasts without renewal: how soon a job of a process
    /// that died is resumed by another.
    pub job_lease: std::time::Duration,
}

/// Keys for signing access tokens.
#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// Signs new tokens; `None` makes the server use a random key for this run only.
    pub secret: Option<SecretString>,
    pub key_id: String,
    /// Earlier keys, still accepted for verification after a rotation: `(key id, secret)`.
    pub previous: Vec<(String, SecretString)>,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let addr = parse_or("SIGHTLINE_ADDR", get("SIGHTLINE_ADDR"), || {
            SocketAddr::from(([127, 0, 0, 1], 3000))
        })?;

        let database_url = get("DATABASE_URL").ok_or(SettingsError::Missing {
            var: "DATABASE_URL",
            hint: "a postgres:// URL for a role that may create databases and roles",
        })?;
        let admin = PgConnectOptions::from_str(&database_url).map_err(|e| {
            // The URL may hold a password: say what is wrong without echoing it.
            SettingsError::Invalid {
                var: "DATABASE_URL",
                reason: redact_url_error(&e.to_string()),
            }
        })?;
        let max_connections = parse_or(
            "SIGHTLINE_DB_MAX_CONNECTIONS",
            get("SIGHTLINE_DB_MAX_CONNECTIONS"),
            || 10u32,
        )?;
        if max_connections == 0 {
            return Err(SettingsError::Invalid {
                var: "SIGHTLINE_DB_MAX_CONNECTIONS",
                reason: "must be at least 1".into(),
            });
        }

        let redis_url = get("REDIS_URL").map(SecretString::from);
        if let Some(url) = &redis_url {
            redis::Client::open(url.expose_secret()).map_err(|_| SettingsError::Invalid {
                var: "REDIS_URL",
                reason: "expected redis://[user:password@]host[:port][/db]".into(),
            })?;
        }

        let log_format = parse_or("SIGHTLINE_LOG_FORMAT", get("SIGHTLINE_LOG_FORMAT"), || {
            LogFormat::Pretty
        })?;
        let site_root =
            get("SIGHTLINE_SITE_ROOT").map_or_else(|| PathBuf::from("target/site"), PathBuf::from);
        let text_dir = get("SIGHTLINE_TEXT_DIR").map_or_else(|| PathBuf::from(".local/text"), PathBuf::from);

        let mut previous = Vec::new();
        for entry in get("SIGHTLINE_JWT_PREVIOUS_KEYS")
            .unwrap_or_default()
            .split(',')
            .filter(|e| !e.trim().is_empty())
        {
            let (id, secret) = entry.trim().split_once('=').ok_or(SettingsError::Invalid {
                var: "SIGHTLINE_JWT_PREVIOUS_KEYS",
                reason: "expected key-id=secret pairs separated by commas".into(),
            })?;
            previous.push((id.to_owned(), SecretString::from(secret.to_owned())));
        }
        let jwt = JwtSettings {
            secret: get("SIGHTLINE_JWT_SECRET").map(SecretString::from),
            key_id: get("SIGHTLINE_JWT_KEY_ID").unwrap_or_else(|| "k1".into()),
            previous,
        };

        let per_minute = |var: &'static str, default: u32| {
            let value = parse_or(var, get(var), || default)?;
            if value == 0 {
                return Err(SettingsError::Invalid {
                    var,
                    reason: "must be at least 1".into(),
                });
            }
            Ok(value)
        };
        let defaults = LimitSettings::default();
        let limits = LimitSettings {
            user_per_minute: per_minute("SIGHTLINE_RATE_LIMIT_USER_PER_MINUTE", defaults.user_per_minute)?,
            key_per_minute: per_minute("SIGHTLINE_RATE_LIMIT_KEY_PER_MINUTE", defaults.key_per_minute)?,
            trust_forwarded_for: parse_or(
                "SIGHTLINE_TRUST_FORWARDED_FOR",
                get("SIGHTLINE_TRUST_FORWARDED_FOR"),
                || false,
            )?,
        };
        let secure_cookies = parse_or(
            "SIGHTLINE_SECURE_COOKIES",
            get("SIGHTLINE_SECURE_COOKIES"),
            || true,
        )?;

        let lease_seconds = parse_or(
            "SIGHTLINE_JOB_LEASE_SECONDS",
            get("SIGHTLINE_JOB_LEASE_SECONDS"),
            || app::backend::jobs::DEFAULT_LEASE.as_secs(),
        )?;
        if !(2..=3600).contains(&lease_seconds) {
            return Err(SettingsError::Invalid {
                var: "SIGHTLINE_JOB_LEASE_SECONDS",
                reason: "must be from 2 to 3600 seconds".into(),
            });
        }

        Ok(Settings {
            job_lease: std::time::Duration::from_secs(lease_seconds),
            limits,
            secure_cookies,
            jwt,
            addr,
            database: DatabaseSettings {
                admin,
                app_password: get("SIGHTLINE_DB_APP_PASSWORD").map(SecretString::from),
                max_connections,
            },
            redis_url,
            log_format,
            site_root,
            text_dir,
        })
    }
}

fn parse_or<T>(
    var: &'static str,
    value: Option<String>,
    default: impl FnOnce() -> T,
) -> Result<T, SettingsError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default()),
        Some(raw) => raw.trim().parse().map_err(|e: T::Err| SettingsError::Invalid {
            var,
            reason: format!("`{}`: {e}", raw.trim()),
        }),
    }
}

/// Keeps the kind of URL error but drops anything after `://`, where credentials live.
fn redact_url_error(message: &str) -> String {
    match message.find("://") {
        Some(i) => format!("{}://…", &message[..i]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn settings_from(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| env.get(k).cloned())
    }

    const URL: (&str, &str) = ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sightline");

    #[test]
    fn defaults_apply_when_only_the_database_is_given() {
        let settings = settings_from(&[URL]).unwrap();
        assert_eq!(settings.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(settings.log_format, LogFormat::Pretty);
        assert_eq!(settings.site_root, PathBuf::from("target/site"));
        assert_eq!(settings.database.max_connections, 10);
        assert_eq!(settings.database.admin.get_database(), Some("sightline"));
        assert!(settings.redis_url.is_none());
    }

    #[test]
    fn a_missing_database_url_names_the_variable() {
        let err = settings_from(&[]).unwrap_err();
        assert!(
            matches!(
                err,
                SettingsError::Missing {
                    var: "DATABASE_URL",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_invalid_address_names_the_variable_and_the_value() {
        let err = settings_from(&[URL, ("SIGHTLINE_ADDR", "localhost:port")]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("SIGHTLINE_ADDR") && message.contains("localhost:port"),
            "{message}"
        );
    }

    #[test]
    fn json_logging_is_chosen_case_insensitively() {
        let settings = settings_from(&[URL, ("SIGHTLINE_LOG_FORMAT", "JSON")]).unwrap();
        assert_eq!(settings.log_format, LogFormat::Json);
        assert!(settings_from(&[URL, ("SIGHTLINE_LOG_FORMAT", "xml")]).is_err());
    }

    #[test]
    fn a_bad_redis_url_is_refused_at_start() {
        let err = settings_from(&[URL, ("REDIS_URL", "not a url")]).unwrap_err();
        assert!(
            matches!(err, SettingsError::Invalid { var: "REDIS_URL", .. }),
            "{err}"
        );
        assert!(settings_from(&[URL, ("REDIS_URL", "redis://127.0.0.1:6379")])
            .unwrap()
            .redis_url
            .is_some());
    }

    #[test]
    fn previous_signing_keys_are_read_as_id_secret_pairs() {
        let settings = settings_from(&[URL, ("SIGHTLINE_JWT_PREVIOUS_KEYS", "k1=aaaa, k0=bbbb")]).unwrap();
        let ids: Vec<&str> = settings.jwt.previous.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["k1", "k0"]);
        assert_eq!(settings.jwt.key_id, "k1");
        assert!(settings_from(&[URL, ("SIGHTLINE_JWT_PREVIOUS_KEYS", "no-separator")]).is_err());
    }

    #[test]
    fn a_zero_sized_pool_is_refused() {
        assert!(settings_from(&[URL, ("SIGHTLINE_DB_MAX_CONNECTIONS", "0")]).is_err());
    }

    #[test]
    fn url_errors_never_echo_credentials() {
        let redacted = redact_url_error("invalid port in postgres://admin:hunter2@host:x/db");
        assert!(!redacted.contains("hunter2"), "{redacted}");
    }

    proptest! {
        #[test]
        fn any_socket_address_round_trips(ip in any::<[u8; 4]>(), port in any::<u16>()) {
            let addr = SocketAddr::from((ip, port));
            let settings = settings_from(&[URL, ("SIGHTLINE_ADDR", &addr.to_string())]).unwrap();
            prop_assert_eq!(settings.addr, addr);
        }

        #[test]
        fn pool_sizes_parse_exactly(n in 1u32..10_000) {
            let settings = settings_from(&[URL, ("SIGHTLINE_DB_MAX_CONNECTIONS", &format!(" {n} "))]).unwrap();
            prop_assert_eq!(settings.database.max_connections, n);
        }

        #[test]
        fn database_passwords_never_appear_in_errors(password in "[a-zA-Z0-9]{8,20}") {
            let url = format!("postgres://admin:{password}@host:notaport/db");
            if let Err(err) = settings_from(&[("DATABASE_URL", &url)]) {
                prop_assert!(!err.to_string().contains(&password));
            }
        }
    }
}
