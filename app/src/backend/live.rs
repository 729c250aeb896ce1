//! Live updates (SPEC UI-3): each server process listens once on `sightline_events` (migration
//! 0010 announces every event there when its transaction commits) and passes the events to
//! the browsers connected to it through an in-memory broadcast, each browser seeing only its
//! own organization's. A browser that reconnects sends the last id it saw and first gets what
//! it missed from `live_events`; one too far behind, or one whose feed overflowed, is told to
//! reload instead. Bursts reach a browser at most ten times a second, as one batch each time.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::Permission;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::time::Instant;
use uuid::Uuid;

use super::caller::Caller;
use super::error::ApiError;

/// The notification channel events are announced on.
pub const CHANNEL: &str = "sightline_events";

/// How often at most a browser is sent a batch.
pub const MIN_GAP: Duration = Duration::from_millis(100);

/// The most events a reconnecting browser is sent to catch up; further behind, it reloads.
pub const MAX_CATCH_UP: i64 = 1000;

/// Events a process holds for browsers that are slow to take them; a browser further behind
/// than this is told to reload.
const BUFFER: usize = 4096;

/// One thing that happened in an organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct LiveEvent {
    pub id: i64,
    pub org_id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub at: DateTime<Utc>,
}

/// What the process's listener passes on.
#[derive(Clone, Debug)]
enum Heard {
    Event(Arc<LiveEvent>),
    /// The listener lost its connection: events may have been missed by everyone.
    Gap,
    /// The process is shutting down: feeds end, so connections close.
    Closing,
}

/// The process's one subscription to the database's events, shared by every browser.
#[derive(Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<Heard>,
    listener: tokio::task::AbortHandle,
}

impl LiveHub {
    /// Starts listening on `db`'s database (a task that lives as long as the process and
    /// reconnects when the connection drops).
    pub fn start(db: PgPool) -> LiveHub {
        let (sender, _) = broadcast::channel(BUFFER);
        let listener = tokio::spawn(listen(db, sender.clone())).abort_handle();
        LiveHub { sender, listener }
    }

    /// Browsers connected to this process right now.
    pub fn listeners(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Stops listening and ends every feed (at shutdown: open streams would otherwise hold
    /// it up forever, and the listener's connection the database).
    pub fn close(&self) {
        self.listener.abort();
        drop(self.sender.send(Heard::Closing));
    }
}

async fn listen(db: PgPool, sender: broadcast::Sender<Heard>) {
    loop {
        let mut listener = match PgListener::connect_with(&db).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "live events: could not connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "live events: could not listen; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        tracing::info!("live events: listening");
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match serde_json::from_str::<LiveEvent>(notification.payload()) {
                    // No browser connected is not an error.
                    Ok(event) => drop(sender.send(Heard::Event(Arc::new(event)))),
                    Err(error) => tracing::warn!(%error, "live events: unreadable announcement"),
                },
                Ok(None) => {
                    tracing::warn!("live events: connection lost; browsers will reload");
                    drop(sender.send(Heard::Gap));
                }
                Err(error) => {
                    tracing::warn!(%error, "live events: listener failed; reconnecting");
                    drop(sender.send(Heard::Gap));
                    break;
                }
            }
        }
    }
}

/// What a browser is sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// New events, oldest first (the last one's id is the one to resume after).
    Events(Vec<Arc<LiveEvent>>),
    /// Events were missed: reload everything, then follow again.
    Reload,
}

/// One browser's feed.
pub struct Feed {
    org: Uuid,
    receiver: broadcast::Receiver<Heard>,
    /// Caught-up events (or a reload) not yet sent.
    pending: VecDeque<Update>,
    /// Ids recently sent, so an event heard live and also read while catching up goes once.
    sent: HashSet<i64>,
    sent_order: VecDeque<i64>,
    last_sent_at: Option<Instant>,
}

/// Opens `caller`'s feed, starting after `last_id` when the browser is reconnecting.
pub async fn open(mut caller: Caller, hub: &LiveHub, last_id: Option<i64>) -> Result<Feed, ApiError> {
    caller.require(Permission::ReadData, "events.read").await?;
    let org = caller.tenant.org_id().0;
    // Subscribe before reading the log, so nothing falls between the two.
    let receiver = hub.sender.subscribe();
    let mut pending = VecDeque::new();
    if let Some(last_id) = last_id {
        let seen: bool =
            sqlx::query_scalar("select exists (select 1 from live_events where org_id = $1 and id = $2)")
                .bind(org)
                .bind(last_id)
                .fetch_one(caller.tenant.conn())
                .await?;
        let missed: Vec<LiveEvent> = sqlx::query_as(
            "select id, org_id, kind, payload, created_at as at from live_events
             where org_id = $1 and id > $2 order by id limit $3",
        )
        .bind(org)
        .bind(last_id)
        .bind(MAX_CATCH_UP + 1)
        .fetch_all(caller.tenant.conn())
        .await?;
        // An id no longer in the log (pruned, or never this organization's) cannot be
        // resumed from exactly; neither can a gap longer than the catch-up allows.
        if (!seen && !missed.is_empty()) || missed.len() as i64 > MAX_CATCH_UP {
            pending.push_back(Update::Reload);
        } else if !missed.is_empty() {
            pending.push_back(Update::Events(missed.into_iter().map(Arc::new).collect()));
        }
    }
    caller.tenant.commit().await?;
    Ok(Feed {
        org,
        receiver,
        pending,
        sent: HashSet::new(),
        sent_order: VecDeque::new(),
        last_sent_at: None,
    })
}

impl Feed {
    /// The next batch for the browser: waits for at least one event of its organization,
    /// then for the rest of `MIN_GAP` since the last batch, gathering what else arrives.
    /// `None` when the process is shutting down.
    pub async fn next(&mut self) -> Option<Update> {
        if let Some(update) = self.pending.pop_front() {
            return Some(self.mark(update));
        }
        let mut batch = loop {
            match self.receiver.recv().await {
                Ok(Heard::Event(event)) if self.wanted(&event) => break vec![event],
                Ok(Heard::Event(_)) => continue,
                Ok(Heard::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(self.mark(Update::Reload))
                }
                Ok(Heard::Closing) | Err(broadcast::error::RecvError::Closed) => return None,
            }
        };
        if let Some(at) = self.last_sent_at {
            tokio::time::sleep_until(at + MIN_GAP).await;
        }
        loop {
            match self.receiver.try_recv() {
                Ok(Heard::Event(event)) => {
                    if self.wanted(&event) && !batch.iter().any(|e| e.id == event.id) {
                        batch.push(event);
                    }
                }
                Ok(Heard::Gap) | Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    return Some(self.mark(Update::Reload));
                }
                Ok(Heard::Closing) => return None,
                Err(_) => break,
            }
        }
        batch.sort_by_key(|e| e.id);
        Some(self.mark(Update::Events(batch)))
    }

    fn wanted(&self, event: &LiveEvent) -> bool {
        event.org_id == self.org && !self.sent.contains(&event.id)
    }

    /// Remembers what is being sent (the last 4,096 ids) and when.
    fn mark(&mut self, update: Update) -> Update {
        if let Update::Events(events) = &update {
            for event in events {
                if self.sent.insert(event.id) {
                    self.sent_order.push_back(event.id);
                }
            }
            while self.sent_order.len() > BUFFER {
                if let Some(old) = self.sent_order.pop_front() {
                    self.sent.remove(&old);
                }
            }
        }
        self.last_sent_at = Some(Instant::now());
        update
    }
}

/// Removes events older than a day (the job worker's housekeeping).
pub async fn prune(db: &PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("select prune_live_events(interval '1 day')")
        .fetch_one(db)
        .await
}
