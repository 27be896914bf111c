//! The locales the UI speaks and how a request picks one.

pub const LOCALES: &[&str] = &["en", "zh"];
pub const DEFAULT_LOCALE: &str = "en";
/// The cookie leptos_i18n keeps the chosen locale in.
pub const LOCALE_COOKIE: &str = "i18n_pref_locale";

pub fn locale_from_segment(segment: &str) -> Option<&'static str> {
    LOCALES.iter().copied().find(|l| *l == segment)
}

/// The first supported language in an `Accept-Language` header, honouring q-values.
pub fn locale_from_accept_language(header: &str) -> Option<&'static str> {
    let mut ranked: Vec<(f32, &'static str)> = header
        .split(',')
        .filter_map(|part| {
            let mut it = part.trim().split(';');
            let tag = it.next()?.trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let primary = tag.split('-').next()?.to_string();
            LOCALES
                .iter()
                .copied()
                .find(|l| *l == primary)
                .map(|l| (q, l))
        })
        .filter(|(q, _)| *q > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.first().map(|(_, l)| *l)
}

/// The same page in another locale: `/en/keys?x=1` -> `/zh/keys?x=1`.
pub fn switch_locale_path(path: &str, to: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    if locale_from_segment(first).is_some() {
        if rest.is_empty() {
            format!("/{to}")
        } else {
            format!("/{to}/{rest}")
        }
    } else {
        format!("/{to}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            locale_from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some("zh")
        );
        assert_eq!(
            locale_from_accept_language("fr-FR, en;q=0.5, zh;q=0.7"),
            Some("zh")
        );
        assert_eq!(locale_from_accept_language("en-US"), Some("en"));
        assert_eq!(locale_from_accept_language("fr, de"), None);
        assert_eq!(locale_from_accept_language("zh;q=0"), None);
    }

    #[test]
    fn switching_keeps_the_page() {
        assert_eq!(switch_locale_path("/en/keys", "zh"), "/zh/keys");
        assert_eq!(switch_locale_path("/zh/logs/", "en"), "/en/logs/");
        assert_eq!(switch_locale_path("/en", "zh"), "/zh");
        assert_eq!(switch_locale_path("/", "zh"), "/zh");
    }
}
