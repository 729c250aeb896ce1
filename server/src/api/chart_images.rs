//! `GET /api/v1/charts/{name}.{svg|png}` (SPEC UI-7): the dashboard's main charts drawn on the
//! server, with the dashboard's own range and filter parameters, for reports, e-mails and
//! anything without a browser. The figures are the dashboard's, so an image never disagrees
//! with the page.

use app::backend::dashboard::{self, DashboardQuery};
use app::dashboard::Dashboard;
use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use charts::{Figure, Format, Mark, Series, Side};
use serde::Deserialize;

use super::extract::Caller;
use crate::error::{ApiError, FieldError};

/// The charts this endpoint draws.
pub const NAMES: [&str; 3] = ["sentiment", "revenue", "channels"];

/// The image's size in pixels (default 960 × 400).
#[derive(Debug, Deserialize)]
pub struct ImageSize {
    width: Option<u32>,
    height: Option<u32>,
}

pub async fn show(
    mut caller: Caller,
    Path(file): Path<String>,
    Query(query): Query<DashboardQuery>,
    Query(size): Query<ImageSize>,
) -> Result<Response, ApiError> {
    let (name, format) = file
        .rsplit_once('.')
        .and_then(|(name, extension)| Some((name, Format::from_extension(extension)?)))
        .filter(|(name, _)| NAMES.contains(name))
        .ok_or(ApiError::NotFound)?;
    let (width, height) = (size.width.unwrap_or(960), size.height.unwrap_or(400));
    for (field, value, range) in [("width", width, 200..=4000), ("height", height, 150..=4000)] {
        if !range.contains(&value) {
            return Err(ApiError::Validation(vec![FieldError::new(
                field,
                "out_of_range",
                format!("must be from {} to {} pixels", range.start(), range.end()),
            )]));
        }
    }
    let dashboard = dashboard::dashboard(&mut caller, &query).await?;
    let figure = figure(name, &dashboard);
    // Drawing is CPU work of a few milliseconds; it stays off the async workers all the same.
    let image = tokio::task::spawn_blocking(move || charts::render(&figure, format, width, height))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let filename = format!(
        "sightline-{name}-{}-{}.{}",
        dashboard.from,
        dashboard.to,
        if format == Format::Svg { "svg" } else { "png" }
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        image,
    )
        .into_response())
}

/// The figure of chart `name` (one of `NAMES`), as the dashboard draws it.
pub fn figure(name: &str, d: &Dashboard) -> Figure {
    let range = format!("{} to {}", d.from, d.to);
    // The filters on screen, so an image read on its own says what it counts.
    let filters = [
        d.channel.clone(),
        d.segment.clone().map(|s| format!("segment {s}")),
        d.category.clone().map(|c| format!("category {c}")),
    ]
    .into_iter()
    .flatten()
    .map(|part| format!(", {part}"))
    .collect::<String>();
    let labels = d.series.iter().map(|b| b.start.clone()).collect();
    let series = |name: &str, mark, side, values: Vec<Option<f64>>| Series {
        name: name.to_owned(),
        mark,
        side,
        values,
    };
    match name {
        "sentiment" => Figure {
            title: format!("Sentiment and volume, {range}{filters}"),
            categories: labels,
            left_label: "Average sentiment (−1 … 1)".into(),
            right_label: "Interactions".into(),
            series: vec![
                series(
                    "Interactions",
                    Mark::Bars,
                    Side::Right,
                    d.series.iter().map(|b| Some(b.interactions as f64)).collect(),
                ),
                series(
                    "Average sentiment",
                    Mark::Line,
                    Side::Left,
                    d.series.iter().map(|b| b.sentiment).collect(),
                ),
            ],
        },
        "revenue" => Figure {
            title: format!("Revenue and orders, {range}{filters}"),
            categories: labels,
            left_label: format!("Revenue ({})", d.currency.as_deref().unwrap_or("no orders yet")),
            right_label: "Orders".into(),
            series: vec![
                series(
                    "Revenue",
                    Mark::Bars,
                    Side::Left,
                    d.series.iter().map(|b| Some(b.revenue)).collect(),
                ),
                series(
                    "Orders",
                    Mark::Line,
                    Side::Right,
                    d.series.iter().map(|b| Some(b.orders as f64)).collect(),
                ),
            ],
        },
        _ => Figure {
            title: format!("Activity by channel, {range}{filters}"),
            categories: d.channels.iter().map(|c| c.channel.clone()).collect(),
            left_label: "Count".into(),
            right_label: String::new(),
            series: vec![
                series(
                    "Interactions",
                    Mark::Bars,
                    Side::Left,
                    d.channels.iter().map(|c| Some(c.interactions as f64)).collect(),
                ),
                series(
                    "Orders",
                    Mark::Bars,
                    Side::Left,
                    d.channels.iter().map(|c| Some(c.orders as f64)).collect(),
                ),
                series(
                    "Scored texts",
                    Mark::Bars,
                    Side::Left,
                    d.channels.iter().map(|c| Some(c.texts as f64)).collect(),
                ),
            ],
        },
    }
}
