//! Light/dark theme: the one control that needs the WASM, remembered in local storage.

use leptos::prelude::*;

const STORAGE_KEY: &str = "sightline-theme";

/// The colour scheme the page is drawn in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    #[cfg(any(feature = "hydrate", test))]
    fn parse(value: &str) -> Option<Self> {
        match value {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    fn toggled(self) -> Self {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }

    /// The user's last choice, else the operating system's preference. Light on the server,
    /// which has neither.
    pub fn stored_or_preferred() -> Self {
        #[cfg(feature = "hydrate")]
        {
            let window = web_sys::window();
            let stored = window
                .as_ref()
                .and_then(|w| w.local_storage().ok().flatten())
                .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
                .and_then(|v| Theme::parse(&v));
            if let Some(theme) = stored {
                return theme;
            }
            let prefers_dark = window
                .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
                .is_some_and(|m| m.matches());
            if prefers_dark {
                return Theme::Dark;
            }
        }
        Theme::Light
    }

    fn remember(self) {
        #[cfg(feature = "hydrate")]
        if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            // Private browsing may refuse storage; the theme still applies to this page.
            let _ = storage.set_item(STORAGE_KEY, self.as_str());
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (self, STORAGE_KEY);
    }
}

/// The switch in the header. Without WASM it renders but does nothing, by design.
#[component]
pub fn ThemeToggle(theme: RwSignal<Theme>) -> impl IntoView {
    let toggle = move |_| {
        let next = theme.get().toggled();
        next.remember();
        theme.set(next);
    };
    let label = move || match theme.get() {
        Theme::Light => "Dark theme",
        Theme::Dark => "Light theme",
    };

    view! {
        <button
            type="button"
            class="theme-toggle"
            aria-pressed=move || (theme.get() == Theme::Dark).to_string()
            title="Switch between light and dark theme"
            on:click=toggle
        >
            {label}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::Theme;

    #[test]
    fn a_theme_survives_the_round_trip_through_its_stored_name() {
        for theme in [Theme::Light, Theme::Dark] {
            assert_eq!(Theme::parse(theme.as_str()), Some(theme));
        }
    }

    #[test]
    fn toggling_twice_returns_to_the_start_and_once_changes_it() {
        assert_eq!(Theme::Light.toggled(), Theme::Dark);
        assert_eq!(Theme::Dark.toggled().toggled(), Theme::Dark);
    }

    #[test]
    fn an_unknown_stored_value_is_ignored() {
        assert_eq!(Theme::parse("solarized"), None);
    }
}
