//! Reusable widgets.
pub mod bar_chart;
pub mod language_switcher;
pub mod logout_button;
pub mod page_header;
pub mod theme_toggle;
