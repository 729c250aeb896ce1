//! Analytics in the product (SPEC ANA-2..6): the `score` job that computes and stores each
//! organization's customer scores, segments, basket rules and forecasts with the pure
//! `analytics` library, and the reports the endpoints answer from them.

pub mod reports;
pub mod scoring;
