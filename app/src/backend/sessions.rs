//! Where browser sessions live (SPEC AUTH-2): PostgreSQL, or Redis when `REDIS_URL` is set.
//!
//! `tower-sessions` gives each browser a random id in an HttpOnly cookie; this store keeps the
//! session's data under the SHA-256 of that id, so whoever reads the table or Redis cannot use
//! what they read to sign in. Stores for the `sqlx` and `redis` majors this project uses did
//! not exist, hence this one. The session holds who is signed in (`user_id`), where
//! (`org_id`) and since when (`signed_in_at`): a password change ends older sessions.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use uuid::Uuid;

use super::redis_link::RedisLink;
use super::tenant::UserId;

/// Session keys.
pub const USER_ID: &str = "user_id";
pub const ORG_ID: &str = "org_id";
pub const SIGNED_IN_AT: &str = "signed_in_at";

/// The session store of one deployment.
#[derive(Clone, Debug)]
pub struct Sessions {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Postgres(PgPool),
    Redis(RedisLink),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Postgres(_) => "Postgres",
            Backend::Redis(_) => "Redis",
        })
    }
}

/// What is stored for a session: its data and when it ends, never its id.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    data: HashMap<String, serde_json::Value>,
    expires_at: i64,
}

fn backend_error(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn id_hash(id: &Id) -> [u8; 32] {
    Sha256::digest(id.to_string().as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_chrono(at: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), at.nanosecond()).unwrap_or_default()
}

fn from_unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Sessions {
    /// Sessions in the `sessions` table, reached through the application role's pool.
    pub fn postgres(db: PgPool) -> Self {
        Sessions {
            backend: Backend::Postgres(db),
        }
    }

    /// Sessions in Redis, shared by every node.
    pub fn redis(client: redis::Client) -> Self {
        Sessions {
            backend: Backend::Redis(RedisLink::new(client)),
        }
    }

    /// Ends every session of `user` stored in PostgreSQL (sessions in Redis end at their next
    /// request instead: they were started before the password changed).
    pub async fn end_all_of(db: &PgPool, user: UserId) -> Result<u64, sqlx::Error> {
        let mut tx = db.begin().await?;
        sqlx::query("select set_config('app.user_id', $1, true)")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        let ended = sqlx::query("delete from sessions where user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }
}

/// A transaction that may see the one session whose id hashes to `hash`.
async fn session_tx(
    db: &PgPool,
    hash: &[u8; 32],
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("select set_config('app.session_hash', $1, true)")
        .bind(hex(hash))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

fn redis_key(hash: &[u8; 32]) -> String {
    format!("sightline:session:{}", hex(hash))
}

#[async_trait]
impl SessionStore for Sessions {
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let hash = id_hash(&record.id);
        match &self.backend {
            Backend::Postgres(db) => {
                let user_id = record
                    .data
                    .get(USER_ID)
                    .and_then(|v| v.as_str())
                    .and_then(|v| Uuid::parse_str(v).ok());
                let mut tx = session_tx(db, &hash).await.map_err(backend_error)?;
                sqlx::query(
                    "insert into sessions (id_hash, user_id, data, expires_at) values ($1, $2, $3, $4)
                     on conflict (id_hash) do update
                        set user_id = excluded.user_id, data = excluded.data,
                            expires_at = excluded.expires_at, updated_at = now()",
                )
                .bind(&hash[..])
                .bind(user_id)
                .bind(sqlx::types::Json(&record.data))
                .bind(to_chrono(record.expiry_date))
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)
            }
            Backend::Redis(link) => {
                let stored = Stored {
                    data: record.data.clone(),
                    expires_at: record.expiry_date.unix_timestamp(),
                };
                let value = serde_json::to_string(&stored).map_err(backend_error)?;
                let mut connection = link.get().await.map_err(backend_error)?;
                redis::cmd("SET")
                    .arg(redis_key(&hash))
                    .arg(value)
                    .arg("EXAT")
                    .arg(stored.expires_at)
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(backend_error)
            }
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let hash = id_hash(id);
        let stored = match &self.backend {
            Backend::Postgres(db) => {
                let mut tx = session_tx(db, &hash).await.map_err(backend_error)?;
                let row: Option<(
                    sqlx::types::Json<HashMap<String, serde_json::Value>>,
                    DateTime<Utc>,
                )> = sqlx::query_as(
                    "select data, expires_at from sessions where id_hash = $1 and expires_at > now()",
                )
                .bind(&hash[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)?;
                row.map(|(data, expires_at)| Stored {
                    data: data.0,
                    expires_at: expires_at.timestamp(),
                })
            }
            Backend::Redis(link) => {
                let mut connection = link.get().await.map_err(backend_error)?;
                let value: Option<String> = redis::cmd("GET")
                    .arg(redis_key(&hash))
                    .query_async(&mut connection)
                    .await
                    .map_err(backend_error)?;
                value
                    .map(|v| serde_json::from_str::<Stored>(&v))
                    .transpose()
                    .map_err(backend_error)?
            }
        };
        Ok(stored.map(|stored| Record {
            id: *id,
            data: stored.data,
            expiry_date: from_unix(stored.expires_at),
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let hash = id_hash(id);
        match &self.backend {
            Backend::Postgres(db) => {
                let mut tx = session_tx(db, &hash).await.map_err(backend_error)?;
                sqlx::query("delete from sessions where id_hash = $1")
                    .bind(&hash[..])
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                tx.commit().await.map_err(backend_error)
            }
            Backend::Redis(link) => {
                let mut connection = link.get().await.map_err(backend_error)?;
                redis::cmd("DEL")
                    .arg(redis_key(&hash))
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(backend_error)
            }
        }
    }
}
