//! Following the organization's live events in the browser (SPEC UI-3): a page names the
//! event kinds that change what it shows and how to refresh; the refresh runs at once on the
//! first event, then at most once a second while a burst lasts, and on a `reload` message
//! (events were missed). The browser's `EventSource` reconnects by itself and sends the last
//! id it saw, so the server can catch it up. On the server this does nothing.

/// Calls `refresh` when events of `kinds` arrive, for as long as the calling component lives.
pub fn follow(kinds: &'static [&'static str], refresh: impl Fn() + Clone + 'static) {
    #[cfg(feature = "hydrate")]
    browser::follow(kinds, refresh);
    #[cfg(not(feature = "hydrate"))]
    let _ = (kinds, refresh);
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    /// The least time between two refreshes, in milliseconds.
    const GAP_MS: f64 = 1000.0;

    pub fn follow(kinds: &'static [&'static str], refresh: impl Fn() + Clone + 'static) {
        let Ok(source) = EventSource::new("/api/v1/events") else {
            return;
        };
        let last = Rc::new(Cell::new(f64::MIN));
        let scheduled = Rc::new(Cell::new(false));
        let throttled = {
            let (last, scheduled) = (last.clone(), scheduled.clone());
            move || {
                if scheduled.get() {
                    return;
                }
                let wait = last.get() + GAP_MS - js_sys::Date::now();
                if wait <= 0.0 {
                    last.set(js_sys::Date::now());
                    refresh();
                    return;
                }
                scheduled.set(true);
                let (last, scheduled, refresh) = (last.clone(), scheduled.clone(), refresh.clone());
                set_timeout(
                    move || {
                        scheduled.set(false);
                        last.set(js_sys::Date::now());
                        refresh();
                    },
                    Duration::from_millis(wait as u64),
                );
            }
        };
        let on_events = {
            let throttled = throttled.clone();
            Closure::<dyn Fn(MessageEvent)>::new(move |message: MessageEvent| {
                let data = message.data().as_string().unwrap_or_default();
                if kinds
                    .iter()
                    .any(|kind| data.contains(&format!("\"kind\":\"{kind}\"")))
                {
                    throttled();
                }
            })
        };
        let on_reload = Closure::<dyn Fn(MessageEvent)>::new(move |_: MessageEvent| throttled());
        let _ = source.add_event_listener_with_callback("events", on_events.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("reload", on_reload.as_ref().unchecked_ref());
        // The listeners live as long as the source; both end when the component does.
        on_events.forget();
        on_reload.forget();
        let source = StoredValue::new_local(source);
        on_cleanup(move || source.with_value(EventSource::close));
    }
}
