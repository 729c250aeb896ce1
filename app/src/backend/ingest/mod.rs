//! The one write path every source of data goes through (SPEC ING-4): REST records and
//! batches, CSV imports, webhooks and the demo generator.

pub mod batch;
pub mod catalog;
pub mod customers;
pub mod feedback;
pub mod interactions;
pub mod orders;
