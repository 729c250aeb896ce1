//! Showing what went wrong with a form, whether it was sent by JavaScript (the action's
//! value) or as a plain form post (the server sent the browser back with `error` and
//! `error.<field>` in the address).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::ui_error::UiError;

/// The messages for one form: a general one and per field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feedback {
    pub general: Option<String>,
    pub fields: Vec<(String, String)>,
}

impl Feedback {
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.clone())
    }

    fn from_error(error: &UiError) -> Self {
        let fields = match error {
            UiError::Invalid(problems) => problems
                .iter()
                .map(|p| (p.field.clone(), p.message.clone()))
                .collect(),
            _ => Vec::new(),
        };
        Feedback {
            general: Some(error.to_string()),
            fields,
        }
    }
}

/// Feedback for a form whose latest result is `value`.
pub fn feedback<T>(
    value: impl Get<Value = Option<Result<T, UiError>>> + Send + Sync + 'static,
) -> Memo<Feedback>
where
    T: Send + Sync + 'static,
{
    let query = use_query_map();
    Memo::new(move |_| {
        match value.get() {
            Some(Err(error)) => return Feedback::from_error(&error),
            Some(Ok(_)) => return Feedback::default(),
            None => {}
        }
        query.with(|q| Feedback {
            general: q.get("error"),
            fields: q
                .into_iter()
                .filter_map(|(key, message)| {
                    Some((key.strip_prefix("error.")?.to_owned(), message.to_owned()))
                })
                .collect(),
        })
    })
}

/// The form's general error, announced to screen readers.
#[component]
pub fn FormAlert(feedback: Memo<Feedback>) -> impl IntoView {
    move || {
        feedback
            .get()
            .general
            .map(|message| view! { <p class="form-error" role="alert">{message}</p> })
    }
}

/// The error for one field, tied to it by id (`<field>-error`).
#[component]
pub fn FieldAlert(feedback: Memo<Feedback>, field: &'static str) -> impl IntoView {
    move || {
        feedback.get().field(field).map(|message| {
            view! { <p class="field-error" id=format!("{field}-error")>{message}</p> }
        })
    }
}

/// Percent-encodes `value` for a query string.
pub fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
