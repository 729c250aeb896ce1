//! Browser tests: each starts the real `sightline` binary on a fresh database and drives
//! Debian's Chromium through playwright-rs. `make test` builds the binary and the release
//! WASM bundle first and says where they are (`SIGHTLINE_BIN`, `SIGHTLINE_SITE_ROOT`).

mod accounts;
mod dashboard;
mod data;
mod harness;
mod shell;
