//! The database as Sightline expects it: its own database, two roles, migrations applied.
//!
//! - `sightline_owner` (NOLOGIN) owns every table; migrations run as this role.
//! - `sightline_app` (LOGIN, NOSUPERUSER, NOBYPASSRLS, owns nothing) serves every request, so
//!   row-level security always applies to request handling.
//!
//! `prepare` makes it so from nothing but an administrative `DATABASE_URL`, and is safe to run
//! on every start and from several processes at once.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::settings::DatabaseSettings;

/// Owns the schema. Role names are fixed because migrations grant to them by name.
pub const OWNER_ROLE: &str = "sightline_owner";
/// Serves requests; subject to row-level security.
pub const APP_ROLE: &str = "sightline_app";

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Serialises role creation across processes starting at once (advisory locks are per
/// database, so every process takes it in the maintenance database).
const BOOTSTRAP_LOCK: i64 = 0x5167_6874_6c69_6e65;

/// Builds a DDL statement, which cannot take bind parameters. Audited: only the role-name
/// constants above and values passed through `quote_ident`/`quote_literal` go into one.
macro_rules! ddl {
    ($($arg:tt)*) => {
        sqlx::AssertSqlSafe(format!($($arg)*))
    };
}

/// Why the database could not be prepared or reached.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("DATABASE_URL must name a database")]
    NoDatabaseName,
    #[error("could not connect to PostgreSQL as the administrative role: {0}")]
    AdminConnect(#[source] sqlx::Error),
    #[error("could not create the database or Sightline's roles: {0}")]
    Bootstrap(#[source] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not connect as the application role `{APP_ROLE}`: {0}")]
    AppConnect(#[source] sqlx::Error),
}

/// Creates the database and roles if missing, applies migrations as the owner role and grants
/// the application role what it needs.
pub async fn prepare(
    admin: &PgConnectOptions,
    app_password: Option<&SecretString>,
) -> Result<(), DatabaseError> {
    prepare_up_to(admin, app_password, None).await
}

/// `prepare` with the migrations applied only up to version `last` when given: a database as
/// an older server left it, for the tests of what a later migration does to existing data.
#[tracing::instrument(skip_all, fields(database = admin.get_database()))]
pub async fn prepare_up_to(
    admin: &PgConnectOptions,
    app_password: Option<&SecretString>,
    last: Option<i64>,
) -> Result<(), DatabaseError> {
    let database = admin
        .get_database()
        .ok_or(DatabaseError::NoDatabaseName)?
        .to_owned();
    // Statement logging is off: role passwords travel in DDL, which cannot take parameters.
    let admin = admin.clone().log_statements(tracing::log::LevelFilter::Off);

    let mut maintenance = admin
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(DatabaseError::AdminConnect)?;
    ensure_cluster_objects(&mut maintenance, &database, app_password)
        .await
        .map_err(DatabaseError::Bootstrap)?;
    maintenance.close().await.ok();

    let mut conn = admin.connect().await.map_err(DatabaseError::AdminConnect)?;
    // Concurrent GRANTs on one object fail ("tuple concurrently updated"): one preparer at a time.
    sqlx::query("select pg_advisory_lock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut conn)
        .await
        .map_err(DatabaseError::Bootstrap)?;
    let prepared = prepare_schema(&mut conn, &database, last).await;
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut conn)
        .await
        .map_err(DatabaseError::Bootstrap)?;
    conn.close().await.ok();
    prepared
}

/// Grants, migrations as the owner, and the app's view of migration history.
async fn prepare_schema(
    conn: &mut PgConnection,
    database: &str,
    last: Option<i64>,
) -> Result<(), DatabaseError> {
    for statement in [
        ddl!(
            "grant connect, temporary on database {} to {APP_ROLE}",
            quote_ident(database)
        ),
        ddl!("grant usage, create on schema public to {OWNER_ROLE}"),
        ddl!("grant usage on schema public to {APP_ROLE}"),
    ] {
        sqlx::raw_sql(statement)
            .execute(&mut *conn)
            .await
            .map_err(DatabaseError::Bootstrap)?;
    }

    sqlx::raw_sql(ddl!("set role {OWNER_ROLE}"))
        .execute(&mut *conn)
        .await
        .map_err(DatabaseError::Bootstrap)?;
    let migrated = match last {
        Some(last) => MIGRATOR.run_to(last, &mut *conn).await,
        None => MIGRATOR.run(&mut *conn).await,
    };
    sqlx::raw_sql("reset role")
        .execute(&mut *conn)
        .await
        .map_err(DatabaseError::Bootstrap)?;
    migrated?;

    // The app may read which migrations ran (for /ready) but never rewrite that history.
    sqlx::raw_sql(ddl!(
        "revoke all on _sqlx_migrations from {APP_ROLE}; grant select on _sqlx_migrations to {APP_ROLE}"
    ))
    .execute(&mut *conn)
    .await
    .map_err(DatabaseError::Bootstrap)?;

    // This month's and next month's interactions have their partitions before any request
    // arrives, so everyday writes never wait for DDL (older months are made on demand).
    sqlx::raw_sql(
        "select ensure_interactions_partition(now()), ensure_interactions_partition(now() + interval '1 month')",
    )
    .execute(&mut *conn)
    .await
    .map_err(DatabaseError::Bootstrap)?;
    Ok(())
}

/// Creates the database and both roles, and makes sure the app role cannot bypass RLS.
async fn ensure_cluster_objects(
    conn: &mut PgConnection,
    database: &str,
    app_password: Option<&SecretString>,
) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_lock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = async {
        let role_exists = |name: &'static str| {
            sqlx::query_scalar::<_, bool>("select exists(select 1 from pg_roles where rolname = $1)")
                .bind(name)
        };
        if !role_exists(OWNER_ROLE).fetch_one(&mut *conn).await? {
            sqlx::raw_sql(ddl!("create role {OWNER_ROLE} nologin"))
                .execute(&mut *conn)
                .await?;
        }
        if !role_exists(APP_ROLE).fetch_one(&mut *conn).await? {
            sqlx::raw_sql(ddl!(
                "create role {APP_ROLE} login nosuperuser nobypassrls nocreatedb nocreaterole noinherit"
            ))
            .execute(&mut *conn)
            .await?;
        }
        // A pre-existing role may have been given too much; take it back.
        let (is_super, bypasses): (bool, bool) =
            sqlx::query_as("select rolsuper, rolbypassrls from pg_roles where rolname = $1")
                .bind(APP_ROLE)
                .fetch_one(&mut *conn)
                .await?;
        if is_super || bypasses {
            sqlx::raw_sql(ddl!("alter role {APP_ROLE} nosuperuser nobypassrls"))
                .execute(&mut *conn)
                .await?;
        }
        if let Some(password) = app_password {
            sqlx::raw_sql(ddl!(
                "alter role {APP_ROLE} password {}",
                quote_literal(password.expose_secret())
            ))
            .execute(&mut *conn)
            .await?;
        }
        // A non-superuser administrator needs membership to run migrations as the owner.
        let admin_is_super: bool =
            sqlx::query_scalar("select rolsuper from pg_roles where rolname = current_user")
                .fetch_one(&mut *conn)
                .await?;
        if !admin_is_super {
            sqlx::raw_sql(ddl!("grant {OWNER_ROLE} to current_user"))
                .execute(&mut *conn)
                .await?;
        }

        let db_exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                .bind(database)
                .fetch_one(&mut *conn)
                .await?;
        if !db_exists {
            tracing::info!(database, "creating database");
            sqlx::raw_sql(ddl!(
                "create database {} owner {OWNER_ROLE}",
                quote_ident(database)
            ))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
    .await;
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut *conn)
        .await?;
    result
}

/// The pool every request uses: the application role on Sightline's database. Connections are
/// made lazily and re-made after a database restart, so the server outlives a Postgres outage.
pub fn app_pool(settings: &DatabaseSettings) -> PgPool {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(app_connect_options(
            &settings.admin,
            settings.app_password.as_ref(),
        ))
}

/// The administrative options with the application role's name and password put in.
pub fn app_connect_options(
    admin: &PgConnectOptions,
    app_password: Option<&SecretString>,
) -> PgConnectOptions {
    let options = admin.clone().username(APP_ROLE).application_name("sightline");
    match app_password {
        Some(password) => options.password(password.expose_secret()),
        None => options,
    }
}

/// Fails fast at start when the application role cannot log in (wrong password, pg_hba).
pub async fn check_app_login(pool: &PgPool) -> Result<(), DatabaseError> {
    sqlx::query("select 1")
        .execute(pool)
        .await
        .map_err(DatabaseError::AppConnect)?;
    Ok(())
}

/// Versions of the embedded migrations that are not applied successfully in the database.
pub async fn pending_migrations(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let applied: Vec<i64> = sqlx::query_scalar("select version from _sqlx_migrations where success")
        .fetch_all(pool)
        .await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identifiers_and_literals_double_their_quotes() {
        assert_eq!(quote_ident(r#"odd"name"#), r#""odd""name""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    proptest! {
        /// A quoted value is one token: it starts and ends with the quote and every quote
        /// inside comes in pairs, so no value can end the string early.
        #[test]
        fn quoted_literals_cannot_be_escaped(value in ".*") {
            let quoted = quote_literal(&value);
            let inner = &quoted[1..quoted.len() - 1];
            prop_assert!(quoted.starts_with('\'') && quoted.ends_with('\''));
            prop_assert_eq!(inner.replace("''", ""), value.replace('\'', ""));
            prop_assert!(!inner.replace("''", "").contains('\''));
        }
    }

    #[test]
    fn the_app_role_connects_to_the_same_server_and_database() {
        let admin: PgConnectOptions = "postgres://admin:secret@db.internal:5433/sightline"
            .parse()
            .unwrap();
        let app = app_connect_options(&admin, Some(&SecretString::from("app-pass")));
        assert_eq!(app.get_username(), APP_ROLE);
        assert_eq!(app.get_host(), "db.internal");
        assert_eq!(app.get_port(), 5433);
        assert_eq!(app.get_database(), Some("sightline"));
    }
}
