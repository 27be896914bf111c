//! The OpenTelemetry variables (`OTEL_*`) -> `TraceConfig`: traces are exported only when an
//! OTLP endpoint is set. Read through the same lookup as every other variable (not by the
//! OpenTelemetry SDK from the process environment), so each gateway in a test process has its own.
use std::time::Duration;

use super::{invalid, parse_bool, parse_num, ConfigError};
use crate::server::secret::Secret;

/// Where and how the proxy's spans are exported (OTLP over HTTP, protobuf).
#[derive(Debug, Clone)]
pub struct TraceConfig {
    /// The full URL spans are POSTed to: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
    pub endpoint: String,
    /// Sent with every export (`OTEL_EXPORTER_OTLP_HEADERS`): a collector's credentials, often.
    pub headers: Secret<Vec<(String, String)>>,
    pub timeout: Duration,
    /// `service.name` (`OTEL_SERVICE_NAME`, default `autorouter`).
    pub service_name: String,
    pub sampler: TraceSampler,
    /// How long spans wait to be sent in a batch (`OTEL_BSP_SCHEDULE_DELAY`, ms).
    pub batch_delay: Duration,
}

/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`: a ratio of new traces (1 = all,
/// 0 = none), and whether a caller's sampling decision (`traceparent`'s flag) is followed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceSampler {
    pub ratio: f64,
    pub parent_based: bool,
}

/// `None` when no endpoint is set or `OTEL_SDK_DISABLED` is true: no tracer at all.
pub(super) fn from_lookup(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<TraceConfig>, ConfigError> {
    let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    if parse_bool(
        "OTEL_SDK_DISABLED",
        get("OTEL_SDK_DISABLED").as_deref(),
        false,
    )? {
        return Ok(None);
    }
    let endpoint = match (
        nonempty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        nonempty("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(full), _) => http_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", full.trim())?,
        (None, Some(base)) => {
            let base = http_url("OTEL_EXPORTER_OTLP_ENDPOINT", base.trim())?;
            format!("{}/v1/traces", base.trim_end_matches('/'))
        }
        (None, None) => return Ok(None),
    };
    if let Some(protocol) = nonempty("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .map(|p| ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", p))
        .or_else(|| {
            nonempty("OTEL_EXPORTER_OTLP_PROTOCOL").map(|p| ("OTEL_EXPORTER_OTLP_PROTOCOL", p))
        })
    {
        if protocol.1.trim() != "http/protobuf" {
            return Err(invalid(
                protocol.0,
                format!(
                    "only http/protobuf is supported (a collector's OTLP/HTTP port, 4318), got {:?}",
                    protocol.1.trim()
                ),
            ));
        }
    }
    let headers = match nonempty("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .map(|h| ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", h))
        .or_else(|| {
            nonempty("OTEL_EXPORTER_OTLP_HEADERS").map(|h| ("OTEL_EXPORTER_OTLP_HEADERS", h))
        }) {
        Some((var, raw)) => parse_headers(var, &raw)?,
        None => Vec::new(),
    };
    let timeout_ms = parse_num(
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        get("OTEL_EXPORTER_OTLP_TIMEOUT").as_deref(),
        10_000u64,
        1..=600_000,
    )?;
    let batch_delay_ms = parse_num(
        "OTEL_BSP_SCHEDULE_DELAY",
        get("OTEL_BSP_SCHEDULE_DELAY").as_deref(),
        5_000u64,
        1..=600_000,
    )?;
    Ok(Some(TraceConfig {
        endpoint,
        headers: Secret::new(headers),
        timeout: Duration::from_millis(timeout_ms),
        service_name: nonempty("OTEL_SERVICE_NAME")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "autorouter".into()),
        sampler: parse_sampler(
            nonempty("OTEL_TRACES_SAMPLER").as_deref(),
            nonempty("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )?,
        batch_delay: Duration::from_millis(batch_delay_ms),
    }))
}

fn http_url(var: &'static str, raw: &str) -> Result<String, ConfigError> {
    let url =
        url::Url::parse(raw).map_err(|e| invalid(var, format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(var, format!("{raw:?} is not an http(s) URL")));
    }
    Ok(raw.to_string())
}

/// `key1=value1,key2=value2`, values percent-encoded (the OTLP exporter specification). The
/// values are never echoed in an error: they are usually credentials.
fn parse_headers(var: &'static str, raw: &str) -> Result<Vec<(String, String)>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .enumerate()
        .map(|(i, pair)| {
            let bad = || invalid(var, format!("entry {} is not a name=value pair", i + 1));
            let (name, value) = pair.split_once('=').ok_or_else(bad)?;
            let name = name.trim();
            if name.is_empty() || axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(bad());
            }
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .map_err(|_| bad())?
                .into_owned();
            if axum::http::HeaderValue::from_str(&value).is_err() {
                return Err(bad());
            }
            Ok((name.to_ascii_lowercase(), value))
        })
        .collect()
}

fn parse_sampler(name: Option<&str>, arg: Option<&str>) -> Result<TraceSampler, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match arg {
            None => Ok(1.0),
            Some(raw) => raw
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    invalid(
                        "OTEL_TRACES_SAMPLER_ARG",
                        format!("must be a ratio between 0 and 1, got {raw:?}"),
                    )
                }),
        }
    };
    let (ratio, parent_based) = match name.map(|n| n.trim().to_ascii_lowercase()).as_deref() {
        None | Some("parentbased_always_on") => (1.0, true),
        Some("parentbased_always_off") => (0.0, true),
        Some("parentbased_traceidratio") => (ratio()?, true),
        Some("always_on") => (1.0, false),
        Some("always_off") => (0.0, false),
        Some("traceidratio") => (ratio()?, false),
        Some(other) => {
            return Err(invalid(
                "OTEL_TRACES_SAMPLER",
                format!(
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio, got {other:?}"
                ),
            ))
        }
    };
    Ok(TraceSampler {
        ratio,
        parent_based,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn traces(vars: &[(&str, &str)]) -> Result<Option<TraceConfig>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_lookup(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert!(traces(&[]).unwrap().is_none());
        assert!(traces(&[("OTEL_SERVICE_NAME", "x")]).unwrap().is_none());
        assert!(traces(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ])
        .unwrap()
        .is_none());
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_and_the_traces_endpoint_is_kept() {
        let c = traces(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(c.service_name, "autorouter");
        assert_eq!(
            c.sampler,
            TraceSampler {
                ratio: 1.0,
                parent_based: true
            }
        );
        let c = traces(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://c.example/otlp/traces",
            ),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "https://c.example/otlp/traces");
    }

    #[test]
    fn bad_values_name_their_variable_and_never_echo_a_header_value() {
        let err = traces(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]).unwrap_err();
        assert_eq!(err.var, "OTEL_EXPORTER_OTLP_ENDPOINT");
        let err = traces(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "OTEL_EXPORTER_OTLP_PROTOCOL");
        let err = traces(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20ok,sk-secret-token",
            ),
        ])
        .unwrap_err();
        assert_eq!(err.var, "OTEL_EXPORTER_OTLP_HEADERS");
        assert!(!err.to_string().contains("sk-secret"), "{err}");
        let err = traces(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "OTEL_TRACES_SAMPLER_ARG");
    }

    #[test]
    fn headers_are_decoded_and_hidden_from_debug() {
        let c = traces(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20tok123, x-scope=a",
            ),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            c.headers.expose(),
            &vec![
                ("authorization".to_string(), "Bearer tok123".to_string()),
                ("x-scope".to_string(), "a".to_string())
            ]
        );
        assert!(!format!("{c:?}").contains("tok123"));
        assert_eq!(
            c.sampler,
            TraceSampler {
                ratio: 0.25,
                parent_based: false
            }
        );
    }
}
