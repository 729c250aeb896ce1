//! A shared Redis connection made on first need and made again after a failure, so a
//! Redis that starts late or restarts never needs the server restarted.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

#[derive(Clone)]
pub struct RedisLink {
    client: redis::Client,
    /// Give up within half a second instead of retrying, for callers with a fallback.
    fail_fast: bool,
    slot: Arc<tokio::sync::Mutex<Option<ConnectionManager>>>,
}

impl RedisLink {
    pub fn new(client: redis::Client) -> Self {
        RedisLink {
            client,
            fail_fast: false,
            slot: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// For callers that do something else when Redis is slow or down (rate limits).
    pub fn fail_fast(client: redis::Client) -> Self {
        RedisLink {
            fail_fast: true,
            ..Self::new(client)
        }
    }

    /// The connection, made now if there is none.
    pub async fn get(&self) -> Result<ConnectionManager, redis::RedisError> {
        let mut slot = self.slot.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = if self.fail_fast {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_millis(500)))
                .set_response_timeout(Some(Duration::from_millis(500)))
                .set_number_of_retries(0);
            ConnectionManager::new_with_config(self.client.clone(), config).await?
        } else {
            ConnectionManager::new(self.client.clone()).await?
        };
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets a connection that failed; the next `get` makes a new one.
    pub async fn reset(&self) {
        *self.slot.lock().await = None;
    }
}
