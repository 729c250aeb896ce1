//! Spawns the real router on port 0 against a prepared test database.

use std::net::SocketAddr;

use secrecy::SecretString;
use server::auth::jwt::{KeyRing, SigningKey};
use server::database;
use server::rate_limit::Limits;
use server::settings::LimitSettings;
use server::startup::{build_router, leptos_options, AppState};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// A running app and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The application role's pool, as requests use it.
    pub app_db: PgPool,
    /// A superuser connection to the same database, for arranging and inspecting.
    pub admin_db: PgPool,
    /// What the router runs with, for running background jobs in a test.
    pub state: AppState,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApp {
    /// Stops the server so its pool lets go of the test database, which `sqlx::test` then
    /// drops without waiting for connected sessions.
    fn drop(&mut self) {
        self.server.abort();
        self.state.live.close();
    }
}

impl TestApp {
    /// Prepares the fresh database `sqlx::test` made (roles, migrations) and serves the app.
    pub async fn spawn(admin: PgConnectOptions) -> TestApp {
        Self::spawn_limited(admin, Limits::new(&LimitSettings::default(), None)).await
    }

    /// As `spawn`, with these request budgets.
    pub async fn spawn_limited(admin: PgConnectOptions, limits: Limits) -> TestApp {
        database::prepare(&admin, None).await.expect("database prepares");
        let app_db = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(database::app_connect_options(&admin, None))
            .await
            .expect("application role connects");
        let admin_db = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(admin)
            .await
            .unwrap();
        Self::serve(app_db, admin_db, None, limits).await
    }

    /// Serves the app with the given pools and Redis client, which may point nowhere.
    pub async fn spawn_with(app_db: PgPool, admin_db: PgPool, redis: Option<redis::Client>) -> TestApp {
        let limits = Limits::new(&LimitSettings::default(), None);
        Self::serve(app_db, admin_db, redis, limits).await
    }

    async fn serve(
        app_db: PgPool,
        admin_db: PgPool,
        redis: Option<redis::Client>,
        limits: Limits,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState {
            leptos_options: leptos_options(addr, std::path::Path::new("target/site")),
            db: app_db.clone(),
            redis,
            keys: std::sync::Arc::new(test_keys()),
            limits: std::sync::Arc::new(limits),
            // Tests talk plain http.
            secure_cookies: false,
            live: app::backend::live::LiveHub::start(app_db.clone()),
            job_lease: app::backend::jobs::DEFAULT_LEASE,
        };
        let served_state = state.clone();
        let server = tokio::spawn(async move {
            let router = build_router(served_state).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, router).await
        });
        TestApp {
            address: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            app_db,
            admin_db,
            state,
            server,
        }
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(&body)
            .send()
            .await
            .expect("request is answered")
    }

    /// Runs due background jobs one after another until none is due.
    pub async fn run_jobs(&self) {
        let (_keep, stop) = tokio::sync::watch::channel(false);
        while let Some(job) = app::backend::jobs::claim(&self.app_db, self.state.job_lease)
            .await
            .unwrap()
        {
            app::backend::jobs::run_claimed(&self.state, job, &stop)
                .await
                .unwrap();
        }
    }

    /// Uploads `csv` as a CSV import of `entity` (answered 202 with the import's id).
    pub async fn import_csv(
        &self,
        token: &str,
        entity: &str,
        csv: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/api/v1/imports?entity={entity}", self.address))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("request is answered")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request is answered")
    }
}

/// The signing keys every test app uses.
pub fn test_keys() -> KeyRing {
    let secret = SecretString::from("test-signing-secret-".repeat(3));
    KeyRing::new(
        SigningKey {
            id: "test".into(),
            secret,
        },
        vec![],
    )
    .unwrap()
}

/// A pool whose every connection attempt fails at once: a database that is down.
pub fn unreachable_pool() -> PgPool {
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(closed_port())
        .username("nobody");
    PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy_with(options)
}

/// A local port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// The Redis the test command started (or `REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A URL the binary can be given for the test's database.
pub fn database_url(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().expect("test database has a name")
    )
}

/// The socket address of a free local port.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], closed_port()))
}

/// The password every registered test account uses.
pub const PASSWORD: &str = "a long and unusual passphrase";

/// Registers `email` as the owner of a new organization; answers the session.
pub async fn register(app: &TestApp, email: &str, organization: &str) -> serde_json::Value {
    let response = app
        .post(
            "/api/v1/auth/register",
            serde_json::json!({ "email": email, "password": PASSWORD, "organization": organization }),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The access token of a session answer (`register`, sign-in).
pub fn token(session: &serde_json::Value) -> String {
    session["access_token"].as_str().unwrap().to_owned()
}

/// Runs the scoring worker's batches until the queue is empty; how many texts it claimed.
pub async fn drain_scoring(db: &sqlx::PgPool) -> usize {
    let mut claimed = 0;
    loop {
        match app::backend::text::scoring::score_next_batch(db).await.unwrap() {
            0 => return claimed,
            n => claimed += n,
        }
    }
}

/// POSTs `body` as JSON with a bearer token; the status and the JSON answer (null if none).
pub async fn send(
    app: &TestApp,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// GETs `path` with a bearer token; the status and the JSON answer (null if none).
pub async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, serde_json::Value) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}
