//! The OTLP/HTTP trace pipeline: one tracer provider per gateway, whose batch span processor
//! sends protobuf-encoded spans to the collector (`TraceConfig`).
//!
//! The SDK's batch processor runs on a thread of its own and drives each export to its end
//! (`block_on`); the exporter's HTTP client (reqwest, the gateway's one) runs it on a small
//! single-threaded tokio runtime it keeps on that thread. So exports never take a turn on a
//! serving thread's runtime, and a shutdown that waits for the last export, called from the main
//! runtime, does not wait on that runtime.
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;

use crate::server::config::{TraceConfig, TraceSampler};

/// This gateway's tracer and the provider that exports what it records.
#[derive(Clone)]
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Traces")
    }
}

impl Traces {
    /// Builds the exporter and the provider; spans are sent from here on.
    pub fn start(config: &TraceConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .with_timeout(config.timeout)
            .with_http_client(ExportClient {
                client,
                headers: config.headers.expose().clone(),
                runtime: OnceLock::new(),
            })
            .build()
            .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
        let batch = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_scheduled_delay(config.batch_delay)
                    .build(),
            )
            .build();
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(batch)
            .with_sampler(sampler(config.sampler))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("autorouter")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        Ok(Traces { provider, tracer })
    }

    pub(crate) fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// Sends what is still queued and stops exporting (at most `timeout`). On a blocking
    /// thread: the processor's thread is waited for.
    pub async fn shutdown(&self, timeout: Duration) {
        let provider = self.provider.clone();
        let done =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(timeout)).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "traces: the last spans were not all sent"),
            Err(e) => tracing::warn!(error = %e, "traces: shutdown did not finish"),
        }
    }
}

fn sampler(s: TraceSampler) -> Sampler {
    let root = if s.ratio >= 1.0 {
        Sampler::AlwaysOn
    } else if s.ratio <= 0.0 {
        Sampler::AlwaysOff
    } else {
        Sampler::TraceIdRatioBased(s.ratio)
    };
    if s.parent_based {
        Sampler::ParentBased(Box::new(root))
    } else {
        root
    }
}

/// The exporter's HTTP client: the collector's headers added to each export, sent on a runtime
/// of its own, made on the processor's thread at the first export.
struct ExportClient {
    client: reqwest::Client,
    headers: Vec<(String, String)>,
    runtime: OnceLock<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ExportClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The headers are usually the collector's credentials.
        f.write_str("ExportClient")
    }
}

impl ExportClient {
    fn runtime(&self) -> Result<&tokio::runtime::Runtime, HttpError> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(self.runtime.get_or_init(|| runtime))
    }
}

#[async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // Only the batch processor's own thread exports; never block a runtime's thread.
            return Err("the OTLP export was called on an async runtime".into());
        }
        let mut request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        for (name, value) in &self.headers {
            request
                .headers_mut()
                .insert(name.parse::<axum::http::HeaderName>()?, value.parse()?);
        }
        self.runtime()?.block_on(async {
            let response = self.client.execute(request).await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok(Response::builder().status(status).body(body)?)
        })
    }
}

impl Drop for ExportClient {
    fn drop(&mut self) {
        // Dropped on the processor's thread as a rule; `shutdown_background` also cannot panic
        // where a runtime may not block.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
