//! Logging set up in one place: `RUST_LOG` filters, `SIGHTLINE_LOG_FORMAT` picks the shape.

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use crate::settings::LogFormat;

/// What is logged when `RUST_LOG` is not set: our own info, dependencies' warnings.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=info,leptos=warn";

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_current_span(true).with_span_list(false))
            .init(),
        LogFormat::Pretty => registry.with(fmt::layer().with_target(false)).init(),
    }
}
