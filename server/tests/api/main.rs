//! Integration tests of the server against a real PostgreSQL (one fresh database per test)
//! and, where it matters, a real Redis. One test binary, so it links once.

mod access;
mod analytics;
mod binary;
mod commerce_schema;
mod customer_filters;
mod dashboard;
mod database;
mod health;
mod helpers;
mod identity;
mod imports;
mod ingest;
mod ingest_extras;
mod insights;
mod isolation;
mod isolation_properties;
mod limits;
mod live;
mod members;
mod outage;
mod pages;
mod seed;
mod sessions;
mod text;
