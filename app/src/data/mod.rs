//! Data pages (SPEC UI-5): customers and their timelines, manual entry of interactions and
//! orders, and CSV uploads with a column mapping and live progress.

mod import;
mod pages;
mod server_fns;

pub use import::ImportPage;
pub use pages::{CustomerPage, CustomersPage, NewInteractionPage, NewOrderPage};
pub use server_fns::*;
