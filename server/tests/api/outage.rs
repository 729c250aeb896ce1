//! A database outage and recovery, seen through a TCP proxy the test can cut: the server is
//! never restarted, and its pool must find the database again by itself.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use server::database;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::helpers::TestApp;

/// Forwards connections on a fixed local port to the real database until cut.
struct CuttableProxy {
    addr: SocketAddr,
    upstream: String,
    tasks: Option<JoinSet<()>>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut proxy = CuttableProxy {
            addr,
            upstream,
            tasks: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream.as_str()).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Closes the port and every connection through it: the database is "down".
    async fn cut(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    /// Opens the same port again: the database is "back".
    async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

async fn ready_status(app: &TestApp) -> (u16, Value) {
    let response = app.get("/ready").await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[sqlx::test(migrations = false)]
async fn ready_follows_a_database_outage_and_recovers_without_a_restart(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    database::prepare(&admin, None).await.unwrap();
    let upstream = format!("{}:{}", admin.get_host(), admin.get_port());
    let mut proxy = CuttableProxy::start(upstream).await;
    let through_proxy = database::app_connect_options(&admin, None)
        .host("127.0.0.1")
        .port(proxy.addr.port());
    let app_db = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy_with(through_proxy);
    let admin_db = PgPoolOptions::new().connect_with(admin).await.unwrap();
    let app = TestApp::spawn_with(app_db, admin_db, None).await;
    let (before, _) = ready_status(&app).await;

    proxy.cut().await;
    let (during, during_body) = ready_status(&app).await;
    let health_during = app.get("/health").await.status();
    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut after = ready_status(&app).await.0;
    while after != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = ready_status(&app).await.0;
    }

    assert_eq!(before, 200);
    assert_eq!(during, 503, "{during_body}");
    assert_eq!(during_body["checks"]["database"]["status"], "down");
    assert_eq!(health_during, 200);
    assert_eq!(after, 200, "ready recovers once the database is back");
}
