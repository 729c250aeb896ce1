//! The Sightline server as a library, so integration tests build exactly what `main` runs.

pub mod analyze;
pub mod api;
pub mod database;
pub mod demo_data;
pub mod health;
pub mod seed;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod text_cli;

// Shared with the pages' server functions, so they live in `app` (feature `ssr`).
pub use app::backend::{auth, error, identity, rate_limit, tenant};
