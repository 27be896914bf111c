//! Generates the typed i18n module from `locales/*.json`.
use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.toml");
    // `sqlx::migrate!` embeds the migrations at compile time: a new one must rebuild the crate.
    println!("cargo::rerun-if-changed=migrations");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("i18n");
    let mut config = Config::new("en")
        .and_then(|c| c.add_locale("zh"))
        .expect("locale config");
    // Lets `t_string!` take interpolations (e.g. seconds in the throttled-login message).
    config.options = ParseOptions::new().interpolate_display(true);
    let infos = TranslationsInfos::parse(config).expect("locales parse");
    infos.emit_diagnostics();
    infos.rerun_if_locales_changed();
    infos
        .generate_i18n_module(out)
        .expect("i18n module generation");
}
