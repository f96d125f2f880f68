//! The OpenAPI 3.1 document's frame: title, security scheme, tags. The paths and schemas are
//! collected from the handlers' `#[utoipa::path]` attributes by the router itself.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "hookd API", description = "Webhook endpoints, events and deliveries, and custom webhook integrations. \
        Authenticate with `Authorization: Bearer scripe_sk_live_…` (or `scripe_sk_test_…`)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "Webhook endpoints"), (name = "Events"), (name = "Deliveries"), (name = "Integrations"), (name = "Portal"), (name = "Operations"))
)]
struct Frame;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("scripe_sk_…")
                    .build(),
            ),
        );
    }
}

pub fn base() -> OpenApiDoc {
    let mut doc = Frame::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}
