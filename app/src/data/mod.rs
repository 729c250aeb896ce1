//! Data pages (SPEC UI-5, TXT-2, TXT-3): customers and their timelines, what they complain about
//! and ask for, searching what they wrote, manual entry of interactions and
//! orders, and CSV uploads with a column mapping and live progress.

mod import;
mod pages;
mod search;
mod server_fns;
mod voice;

pub use import::ImportPage;
pub(crate) use pages::SEGMENTS;
pub use pages::{CustomerPage, CustomersPage, NewInteractionPage, NewOrderPage};
pub use search::{search_texts, SearchPage};
pub use server_fns::*;
pub use voice::{customer_voice, VoicePage};
