//! The one write path every source of data goes through (SPEC ING-4): REST records and
//! batches, CSV imports, webhooks and the demo generator.

pub mod batch;
pub mod catalog;
pub mod customers;
pub mod feedback;
pub mod idempotency;
pub mod imports;
pub mod interactions;
pub mod orders;
pub mod shopify;

use uuid::Uuid;

/// Where written rows came from (SPEC ING-6): the batch, import or webhook delivery, and each
/// record's line in it (its position in a REST batch, its line in a CSV file).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lineage<'a> {
    pub batch_id: Option<Uuid>,
    /// One line per record; absent: the record's position, counting from 1.
    pub lines: Option<&'a [i64]>,
}

impl Lineage<'_> {
    /// Lineage for records numbered by their position in `batch_id`.
    pub fn batch(batch_id: Uuid) -> Self {
        Lineage {
            batch_id: Some(batch_id),
            lines: None,
        }
    }

    /// The source line of the record at `index`.
    pub fn line(&self, index: usize) -> i64 {
        self.lines
            .and_then(|lines| lines.get(index).copied())
            .unwrap_or(index as i64 + 1)
    }
}
