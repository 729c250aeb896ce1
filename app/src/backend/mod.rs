//! Server-only code the pages' server functions and the REST API share: the tenant
//! transaction, repositories, authentication, rate limits, errors and the state requests
//! run with. Compiled only with the `ssr` feature; the WASM bundle never sees it.

pub mod accounts;
pub mod analytics;
pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod caller;
pub mod cursor;
pub mod customers;
pub mod dashboard;
pub mod error;
pub mod identity;
pub mod ingest;
pub mod invitations;
pub mod jobs;
pub mod live;
pub mod members;
pub mod quota;
pub mod rate_limit;
pub mod redis_link;
pub mod rollups;
pub mod sessions;
pub mod state;
pub mod tenant;
pub mod text;
pub mod web;
