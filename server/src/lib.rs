//! The Sightline server as a library, so integration tests build exactly what `main` runs.

pub mod api;
pub mod auth;
pub mod database;
pub mod error;
pub mod health;
pub mod identity;
pub mod rate_limit;
pub mod seed;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod tenant;
