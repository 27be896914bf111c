//! Tracing subscriber set-up: level filter and text or JSON output; `otlp`, the OpenTelemetry
//! trace export.
use tracing_subscriber::{fmt, EnvFilter};

use super::config::{Config, LogFormat};

pub mod otlp;

pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
