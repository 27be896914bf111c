//! The admin API's OpenAPI 3.1 document, generated from the handlers and types, and its route.
//!
//! The document is `AdminApi` (info, tags, security, shared error responses) with every route of
//! `admin::routes()` nested under `/api/admin`, the gateway's `/api/health`, and the proxy's
//! paths. `src/server/rest/openapi.json` is a committed copy for readers; the integration test
//! `openapi::committed_document_is_generated` fails when it differs, and
//! `UPDATE_OPENAPI=1 cargo test --features ssr --test it openapi` rewrites it.
use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
    PathItemBuilder,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{ArrayItems, SchemaType};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OneOfBuilder, OpenApi as Document, Ref, RefOr,
    Required, Response, ResponseBuilder, Schema, SecurityRequirement, Type,
};
use utoipa::{Modify, OpenApi, ToResponse};
use utoipa_axum::router::OpenApiRouter;

use super::admin;
use crate::server::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AutoRouter admin API",
        description = "The admin REST API of AutoRouter, a self-hosted AI API gateway.\n\n**Authentication.** Every `/api/admin/*` path needs `Authorization: Bearer <ADMIN_TOKEN>`; the signed `ar_session` cookie that the dashboard's login sets works too. Without either the answer is 401. After 5 failed attempts from one address (login or Bearer) that address is refused with 429 for 30 s, doubling with each further failure up to 15 min; a success resets it.\n\n**Requests and answers.** Bodies are JSON sent with `content-type: application/json`. Create and update bodies refuse unknown fields. Timestamps are RFC 3339 strings in UTC. Lists take `page` (from 1) and `page_size` (1-100, default 20). Errors answer `{\"error\": {\"message\", \"type\"}}`, and unknown `/api/*` paths a JSON 404. Every response carries an `x-request-id` header.\n\n**Proxy.** Clients call the gateway under `/v1/*` (or `/api/proxy/v1/*`) with a client key, not the admin token; see the `proxy` tag.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/", description = "The server that serves this document.")),
    security(("adminBearer" = []), ("adminSession" = [])),
    tags(
        (name = "health", description = "Unauthenticated status."),
        (name = "session", description = "Admin credentials."),
        (name = "upstreams", description = "Provider endpoints the gateway forwards to."),
        (name = "keys", description = "Client keys (`sk-auto-...`) that callers of the proxy present."),
        (name = "logs", description = "Proxied requests."),
        (name = "meta", description = "This document."),
        (name = "proxy", description = "The gateway itself, for SDKs: authenticated by a client key, not the admin token."),
        (name = "settings", description = "Gateway-wide settings."),
        (name = "circuit-breakers", description = "Per-upstream circuit breakers and admin overrides."),
        (name = "stats", description = "Dashboard statistics."),
        (name = "config", description = "Configuration as code: the whole configuration as one YAML or JSON document, exported and imported (docs/config-as-code.md)."),
        (name = "alerts", description = "Alerts by webhook: breaker, health, budget and error-rate alerts, their deliveries and settings."),
        (name = "prices", description = "Model prices in USD per million tokens: the shipped list, admin overrides and custom prices, and the models seen without one."),
    ),
    paths(super::health::health),
    components(
        schemas(crate::server::error::ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            TooManyRequests,
            InternalError,
            ProxyError
        ),
    ),
    modifiers(&SecuritySchemes),
)]
struct AdminApi;

/// The whole document: see the module comment.
pub(crate) fn document() -> Document {
    let mut doc = OpenApiRouter::<AppState>::with_openapi(AdminApi::openapi())
        .nest("/api/admin", admin::routes())
        .into_openapi();
    // OpenAPI 3.1's `info.summary`, which utoipa's `Info` lacks, goes in as an extension.
    doc.info
        .extensions
        .get_or_insert_with(Default::default)
        .insert(
            "summary".into(),
            json!("Manage AutoRouter's upstreams, client keys and request logs."),
        );
    // `/api/health` needs no credentials.
    if let Some(op) = doc
        .paths
        .paths
        .get_mut("/api/health")
        .and_then(|item| item.get.as_mut())
    {
        op.security = Some(Vec::new());
    }
    AdminErrors.modify(&mut doc);
    Proxy.modify(&mut doc);
    refer_to_page_items(&mut doc);
    doc
}

/// utoipa inlines a generic's argument: `Page_ApiKeyView` would carry a copy of `ApiKeyView`.
/// Each page's `items` refers to the named schema instead.
fn refer_to_page_items(doc: &mut Document) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let named: Vec<String> = components.schemas.keys().cloned().collect();
    for (name, schema) in components.schemas.iter_mut() {
        let Some(item) = name
            .strip_prefix("Page_")
            .filter(|i| named.iter().any(|n| n == i))
        else {
            continue;
        };
        let RefOr::T(Schema::Object(page)) = schema else {
            continue;
        };
        if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
            items.items = ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
        }
    }
}

/// The document as served and committed: pretty JSON and a final newline.
pub(crate) fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the document serializes");
    text.push('\n');
    text
}

static DOCUMENT: LazyLock<String> = LazyLock::new(document_json);

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "getOpenApi",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object)),
)]
pub(crate) async fn serve() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// Answers the auth layer and the server may give to any admin operation: added to each.
struct AdminErrors;

impl Modify for AdminErrors {
    fn modify(&self, doc: &mut Document) {
        let common = [
            ("401", Unauthorized::response().0),
            ("429", TooManyRequests::response().0),
            ("500", InternalError::response().0),
        ];
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/api/admin/") {
                continue;
            }
            for op in operations(item) {
                for (status, name) in common {
                    op.responses
                        .responses
                        .insert(status.into(), RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "adminBearer",
            bearer("`Authorization: Bearer <ADMIN_TOKEN>`."),
        );
        components.add_security_scheme(
            "adminSession",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "ar_session",
                "The signed session cookie the dashboard's login (`/{en|zh}/login`) sets.",
            ))),
        );
        components.add_security_scheme(
            "clientBearer",
            bearer("A client key, `Authorization: Bearer sk-auto-...` (OpenAI SDKs)."),
        );
        components.add_security_scheme(
            "clientApiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "A client key, `x-api-key: sk-auto-...` (Anthropic SDKs).",
            ))),
        );
        components.add_security_scheme(
            "clientGoogApiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-goog-api-key",
                "A client key, `x-goog-api-key: sk-auto-...` (Google's google-genai SDKs), on Google's paths.",
            ))),
        );
        components.add_security_scheme(
            "clientKeyQuery",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "key",
                "A client key as the `key` query parameter, on Google's paths; it is never logged nor forwarded.",
            ))),
        );
    }
}

/// An admin error answer: the `Error` schema with an example.
fn error_response(description: &str, message: &str, kind: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .example(Some(
                json!({ "error": { "message": message, "type": kind } }),
            ))
            .build(),
    )
}

/// A shared response component, referred to by name from the operations.
macro_rules! response_component {
    ($name:ident, $build:expr) => {
        pub(crate) enum $name {}

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), RefOr::T($build))
            }
        }
    };
}

response_component!(
    BadRequest,
    error_response(
        "Invalid input: a malformed or unknown body field, a value out of range, or a bad query value.",
        "weight: must be between 1 and 100",
        "invalid_request",
    )
    .build()
);
response_component!(
    Unauthorized,
    error_response(
        "No valid session cookie or `Authorization: Bearer <ADMIN_TOKEN>`.",
        "authentication required: send a valid admin session or `Authorization: Bearer <ADMIN_TOKEN>`",
        "unauthorized",
    )
    .header(
        "WWW-Authenticate",
        HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["Bearer"])),
            )
            .build(),
    )
    .build()
);
response_component!(
    Forbidden,
    error_response(
        "The operation is disabled by configuration.",
        "revealing keys is disabled (set ALLOW_KEY_REVEAL=true to allow it)",
        "forbidden",
    )
    .build()
);
response_component!(
    NotFound,
    error_response(
        "No record with that id.",
        "no upstream with id 0b0e...",
        "not_found",
    )
    .build()
);
response_component!(
    Conflict,
    error_response(
        "The name is taken.",
        "name: an upstream named \"openai-main\" already exists",
        "conflict",
    )
    .build()
);
response_component!(
    TooManyRequests,
    error_response(
        "Too many failed admin credentials from this address: it is locked out for 30 s, doubling per further failure up to 15 min.",
        "too many failed attempts; retry in 30 seconds",
        "rate_limited",
    )
    .header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("Seconds until the lockout ends."))
            .build(),
    )
    .build()
);
response_component!(
    InternalError,
    error_response(
        "An unexpected server error; details go to the server log only.",
        "internal error",
        "internal_error",
    )
    .build()
);
response_component!(
    ProxyError,
    ResponseBuilder::new()
        .description("An error in the calling SDK's own format: Anthropic's on `/v1/messages...`, Google's on Google's paths, OpenAI's elsewhere. 401 bad client key (Google: 403 when none is sent), 400 bad body or no `model`, 404 no upstream serves the model, 413 body too large, 502 upstream failed, 503 no upstream available, 504 upstream timeout.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    OneOfBuilder::new()
                        .item(Ref::from_schema_name("OpenAiError"))
                        .item(Ref::from_schema_name("AnthropicError"))
                        .item(Ref::from_schema_name("GoogleError")),
                ))
                .build(),
        )
        .build()
);

/// The proxy's paths and error bodies. The proxy forwards any provider body and builds its
/// errors as bytes, so there are no types to generate these from: they are built here.
struct Proxy;

const PROXY_DESCRIPTION: &str = "Authenticates the client key, picks an upstream by the JSON body's `model` (among those the key may use, lowest priority number first, by weight within a tier), applies `model_redirects`, and forwards the request as-is to `{base_url}/{path}` with the upstream's own key; the answer, streamed or not, comes back byte for byte. There is no translation between provider formats. Only the documented endpoints are forwarded (chat/completions, completions, embeddings, responses, responses/input_tokens, moderations, images/generations, audio/speech, messages, messages/count_tokens, each by POST), plus the POST paths an upstream the key may use lists in `extra_paths`; `GET /v1/models` and `GET /v1/models/{model}` are answered by the gateway from the models the key may use. Anything else, and any path with a `.` or `..` segment (raw or encoded), answers 404 in the caller's format. The body must be a JSON object with a `model`. Errors come in the caller's format: Anthropic's on `messages...`, OpenAI's elsewhere. Google's own calls below `/v1/` (`POST models/{model}:{action}`, and `GET models` with `x-goog-api-key` or `key=`) are served as on `/v1beta/{path}`, with Google's version `v1`.";

const GEMINI_DESCRIPTION: &str = "Google's native Gemini API. Authenticates the client key (`x-goog-api-key`, the `key` query parameter, or the other formats' headers), reads the model from the path, and forwards `POST models/{model}:generateContent`, `:streamGenerateContent` (with `alt=sse`: SSE, else Google's JSON array), `:countTokens`, `:embedContent` and `:batchEmbedContents` to upstreams that speak the `gemini` format (Google upstreams by default), at `{root}/{version}/models/{model}:{action}` where `{root}` is the base URL less a trailing `/openai` and version, with the upstream's key in `x-goog-api-key`. Only `alt=sse` of the query goes upstream. `GET models` and `GET models/{model}` are answered by the gateway in Gemini's shape from the models the key reaches over Gemini. Anything else answers 404; a model name other than letters, digits, `-`, `.` and `_` answers 400. Errors come in Google's format, `{\"error\": {\"code\", \"message\", \"status\"}}`; usage is read from `usageMetadata`.";

impl Modify for Proxy {
    fn modify(&self, doc: &mut Document) {
        for (path, suffix, alias, gemini) in [
            ("/v1/{path}", "V1", "", false),
            (
                "/api/proxy/v1/{path}",
                "Api",
                " This path is an alias of `/v1/{path}`.",
                false,
            ),
            ("/v1beta/{path}", "V1beta", "", true),
            (
                "/api/proxy/v1beta/{path}",
                "ApiV1beta",
                " This path is an alias of `/v1beta/{path}`.",
                true,
            ),
        ] {
            let base = if gemini {
                GEMINI_DESCRIPTION
            } else {
                PROXY_DESCRIPTION
            };
            let description = format!("{base}{alias}");
            let securities: &[&str] = if gemini {
                &[
                    "clientGoogApiKey",
                    "clientKeyQuery",
                    "clientBearer",
                    "clientApiKey",
                ]
            } else {
                &["clientBearer", "clientApiKey"]
            };
            let operation = |method: &str, summary: &str| {
                OperationBuilder::new()
                    .tag("proxy")
                    .operation_id(Some(format!("proxy{method}{suffix}")))
                    .summary(Some(summary))
                    .description(Some(description.clone()))
                    .response("200", passed_through())
                    .response("default", Ref::from_response_name("ProxyError"))
                    .securities(Some(
                        securities
                            .iter()
                            .map(|name| SecurityRequirement::new(*name, NO_SCOPES)),
                    ))
            };
            let examples: &[&str] = if gemini {
                &[
                    "models/gemini-2.5-flash:generateContent",
                    "models/gemini-2.5-flash:streamGenerateContent",
                    "models",
                ]
            } else {
                &["chat/completions", "messages", "embeddings", "models"]
            };
            let body = if gemini {
                gemini_body()
            } else {
                provider_body()
            };
            let item = PathItemBuilder::new()
                .parameters(Some([ParameterBuilder::new()
                    .name("path")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("The rest of the provider path; may contain slashes."))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .examples(examples.iter().copied()),
                    ))
                    .build()]))
                .operation(
                    HttpMethod::Get,
                    operation("Get", "Proxy a GET (e.g. `models`)"),
                )
                .operation(
                    HttpMethod::Post,
                    operation(
                        "Post",
                        "Proxy a provider request (e.g. `chat/completions`, `messages`)",
                    )
                    .request_body(Some(body)),
                )
                .build();
            doc.paths.paths.insert(path.into(), item);
        }
        let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
        let string = || ObjectBuilder::new().schema_type(Type::String);
        schemas.insert(
            "OpenAiError".into(),
            ObjectBuilder::new()
                .description(Some("Proxy errors on OpenAI-style paths."))
                .required("error")
                .property(
                    "error",
                    ObjectBuilder::new()
                        .required("message")
                        .required("type")
                        .required("param")
                        .required("code")
                        .property("message", string())
                        .property(
                            "type",
                            string().examples(["invalid_request_error", "server_error"]),
                        )
                        .property("param", ObjectBuilder::new().schema_type(Type::Null))
                        .property(
                            "code",
                            ObjectBuilder::new()
                                .schema_type(
                                    [Type::String, Type::Null]
                                        .into_iter()
                                        .collect::<SchemaType>(),
                                )
                                .examples([
                                    "invalid_api_key",
                                    "model_not_found",
                                    "upstream_timeout",
                                    "no_available_upstream",
                                ]),
                        ),
                )
                .into(),
        );
        schemas.insert(
            "AnthropicError".into(),
            ObjectBuilder::new()
                .description(Some("Proxy errors on `/v1/messages...`."))
                .required("type")
                .required("error")
                .property("type", string().enum_values(Some(["error"])))
                .property(
                    "error",
                    ObjectBuilder::new()
                        .required("type")
                        .required("message")
                        .property(
                            "type",
                            string().examples([
                                "authentication_error",
                                "invalid_request_error",
                                "not_found_error",
                                "api_error",
                                "overloaded_error",
                            ]),
                        )
                        .property("message", string()),
                )
                .into(),
        );
        schemas.insert(
            "GoogleError".into(),
            ObjectBuilder::new()
                .description(Some("Proxy errors on Google's paths."))
                .required("error")
                .property(
                    "error",
                    ObjectBuilder::new()
                        .required("code")
                        .required("message")
                        .required("status")
                        .property("code", ObjectBuilder::new().schema_type(Type::Integer))
                        .property("message", string())
                        .property(
                            "status",
                            string().examples([
                                "INVALID_ARGUMENT",
                                "UNAUTHENTICATED",
                                "PERMISSION_DENIED",
                                "NOT_FOUND",
                                "RESOURCE_EXHAUSTED",
                                "UNAVAILABLE",
                                "DEADLINE_EXCEEDED",
                            ]),
                        ),
                )
                .into(),
        );
    }
}

const NO_SCOPES: [&str; 0] = [];

/// A Gemini request body: the model is in the path, not here.
fn gemini_body() -> RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::False))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().description(Some(
                    "Google's own request body (`contents`, `generationConfig`, ...).",
                ))))
                .build(),
        )
        .build()
}

/// The upstream's answer as the proxy passes it through.
fn passed_through() -> Response {
    ResponseBuilder::new()
        .description(
            "The upstream's answer, passed through (JSON, or `text/event-stream` when streaming).",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(SchemaType::AnyValue)))
                .build(),
        )
        .content(
            "text/event-stream",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .build()
}

/// What the proxy reads of a provider's request body.
fn provider_body() -> RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::False))
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .description(Some("The provider's own request body."))
                        .required("model")
                        .property("model", ObjectBuilder::new().schema_type(Type::String))
                        .property("stream", ObjectBuilder::new().schema_type(Type::Boolean)),
                ))
                .build(),
        )
        .build()
}
