//! `GET /api/v1/events` (SPEC UI-3): the caller's organization's live events as server-sent
//! events. Each message is a batch (`event: events`, data a JSON array, `id` the last event's
//! id, which the browser sends back as `Last-Event-ID` when it reconnects) or `event: reload`
//! when events were missed and the page should fetch everything again.

use std::convert::Infallible;

use app::backend::live::{self, Update};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::extract::Caller;
use crate::error::ApiError;
use crate::startup::AppState;

pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let feed = live::open(caller, &state.live, last_id).await?;
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let message = match feed.next().await? {
            Update::Events(events) => {
                let last = events.last().map_or(0, |e| e.id);
                Event::default()
                    .event("events")
                    .id(last.to_string())
                    .json_data(&events)
                    .unwrap_or_else(|_| Event::default().event("reload").data("{}"))
            }
            Update::Reload => Event::default().event("reload").data("{}"),
        };
        Some((Ok(message), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
