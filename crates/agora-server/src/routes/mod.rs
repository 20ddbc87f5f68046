//! The HTTP API: JSON over axum, bearer tokens, an OpenAPI document at `/api/openapi.json`.
//!
//! Each area module holds its routes and its part of the OpenAPI document; this module merges
//! them. Every error is a JSON body `{"error": "...", "kind": "..."}` with a 4xx status for the
//! caller's mistakes (400 bad input, 401 no or bad token, 403 no grant, 404 unknown, 409
//! conflict); 500 is only for failures of Agora itself (see `crate::api`).

mod domains;
mod edge;
mod events;
mod forecast;
mod governance;
mod ingest;
pub use ingest::DEFAULT_MAX_INGEST_BODY;
mod ledger;
mod lineage;
mod principals;
mod products;
mod quality;
mod query;
mod search;
mod witness;

use agora_mesh::{Mesh, MeshError};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::api::{ApiError, ErrorBody};

#[derive(OpenApi)]
#[openapi(
    info(title = "Agora", description = "Data mesh platform: domains, data products, ingest, governed SQL"),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// Every operation answers 401 without a valid bearer token: the check runs before any
/// handler, so it is documented once here rather than on each route.
struct Unauthenticated;

impl utoipa::Modify for Unauthenticated {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let response = ResponseBuilder::new()
            .description("No bearer token, or one that names no principal")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("401".to_string())
                    .or_insert_with(|| RefOr::T(response.clone()));
            }
        }
    }
}

/// The OpenAPI document of every area.
fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for area in [
        domains::Api::openapi(),
        products::Api::openapi(),
        ingest::Api::openapi(),
        edge::Api::openapi(),
        events::Api::openapi(),
        quality::Api::openapi(),
        forecast::Api::openapi(),
        query::Api::openapi(),
        search::Api::openapi(),
        ledger::Api::openapi(),
        lineage::Api::openapi(),
        witness::Api::openapi(),
        principals::Api::openapi(),
        governance::Api::openapi(),
    ] {
        doc.merge(area);
    }
    utoipa::Modify::modify(&Unauthenticated, &mut doc);
    doc
}

/// The routes of the API; the batch ingest endpoint takes bodies of up to `max_ingest_body`
/// bytes.
pub fn router(mesh: Mesh, max_ingest_body: usize) -> Router {
    let doc = openapi();
    Router::new()
        .route("/api/openapi.json", get(move || async move { Json(doc) }))
        .merge(domains::routes())
        .merge(products::routes())
        .merge(ingest::routes(max_ingest_body))
        .merge(edge::routes(max_ingest_body))
        .merge(events::routes())
        .merge(quality::routes())
        .merge(forecast::routes())
        .merge(query::routes())
        .merge(search::routes())
        .merge(ledger::routes())
        .merge(lineage::routes())
        .merge(witness::routes())
        .merge(principals::routes())
        .merge(governance::routes())
        .nest(crate::sharing::PREFIX, crate::sharing::routes())
        .fallback(|| async {
            ApiError(MeshError::NotFound {
                what: "route",
                name: "this path".into(),
                hint: ": see /api/openapi.json".into(),
            })
        })
        .with_state(mesh)
}
