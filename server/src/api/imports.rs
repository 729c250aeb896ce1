//! CSV imports (SPEC ING-5): `POST /api/v1/imports?entity=…` with the file as the body, or as
//! the `file` part of a `multipart/form-data` upload (`curl -F entity=orders -F file=@x.csv`)
//! → 202 `{import_id}`; `GET /api/v1/imports/{id}` for progress; `GET /api/v1/imports/{id}/errors.csv`
//! for every rejected row. The work happens in `app::backend::ingest::imports` and the job
//! worker.

use std::collections::HashMap;

use app::backend::ingest::imports::{self, Entity, ImportStatus, RowError, Upload};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use futures_util::stream;
use uuid::Uuid;

use super::extract::Caller;
use crate::error::{ApiError, FieldError};
use crate::startup::AppState;

/// Content types a CSV file arrives with (browsers label `.csv` files inconsistently).
const CSV_TYPES: [&str; 5] = [
    "text/csv",
    "application/csv",
    "text/plain",
    "application/vnd.ms-excel",
    "application/octet-stream",
];

/// Rows of the error report read per query.
const ERROR_PAGE: i64 = 5_000;

/// Form fields of a multipart upload other than the file: the query's parameters, up to this
/// many bytes each.
const MAX_FORM_FIELD_BYTES: usize = 64 * 1024;

pub async fn start(
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let raw_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_type = raw_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut params: HashMap<String, String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let body = if content_type == "multipart/form-data" {
        multipart_file(raw_type, body, &mut params).await?
    } else if CSV_TYPES.contains(&content_type.as_str()) {
        body
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send the CSV file as the request body with Content-Type: text/csv, or as the `file` part of \
             multipart/form-data"
                .into(),
        ));
    };
    let entity_name = params.get("entity").map(String::as_str).unwrap_or("");
    let entity = Entity::parse(entity_name).ok_or_else(|| {
        let names: Vec<&str> = Entity::ALL.iter().map(|e| e.name()).collect();
        ApiError::Validation(vec![FieldError::new(
            "entity",
            if entity_name.is_empty() {
                "required"
            } else {
                "invalid"
            },
            format!("one of {}", names.join(", ")),
        )])
    })?;
    let mapping = match params.get("mapping") {
        None => HashMap::new(),
        Some(json) => serde_json::from_str(json).map_err(|_| {
            ApiError::Validation(vec![FieldError::new(
                "mapping",
                "invalid",
                "a JSON object from CSV header to field name, e.g. {\"Order ID\":\"external_id\"}",
            )])
        })?,
    };
    let upload = Upload {
        file_name: params.get("file_name").cloned(),
        mapping,
    };
    let id = imports::start(caller, entity, upload, body).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "import_id": id }))))
}

/// The `file` part of a multipart upload as a body streamed straight from the request (never
/// held whole). Text parts before it (`entity`, `mapping`, `file_name`) count as the query's
/// parameters; the file's own name is the default `file_name`. Parts after it are not read.
async fn multipart_file(
    content_type: &str,
    body: Body,
    params: &mut HashMap<String, String>,
) -> Result<Body, ApiError> {
    let malformed =
        |error: multer::Error| ApiError::BadRequest(format!("malformed multipart/form-data: {error}"));
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let mut parts = multer::Multipart::new(body.into_data_stream(), boundary);
    while let Some(part) = parts.next_field().await.map_err(malformed)? {
        let name = part.name().unwrap_or("").to_owned();
        if name == "file" {
            if let Some(file_name) = part.file_name().filter(|n| !n.is_empty()) {
                params
                    .entry("file_name".to_owned())
                    .or_insert_with(|| file_name.to_owned());
            }
            return Ok(Body::from_stream(part));
        }
        let mut value = Vec::new();
        let mut part = part;
        while let Some(chunk) = part.chunk().await.map_err(malformed)? {
            value.extend_from_slice(&chunk);
            if value.len() > MAX_FORM_FIELD_BYTES {
                return Err(ApiError::PayloadTooLarge(format!(
                    "the form field `{name}` may hold at most {MAX_FORM_FIELD_BYTES} bytes"
                )));
            }
        }
        let value = String::from_utf8(value).map_err(|_| {
            ApiError::Validation(vec![FieldError::new(&name, "invalid", "must be UTF-8 text")])
        })?;
        params.entry(name).or_insert(value);
    }
    Err(ApiError::Validation(vec![FieldError::new(
        "file",
        "required",
        "a multipart upload needs the CSV file in a part named `file`",
    )]))
}

pub async fn status(caller: Caller, Path(id): Path<Uuid>) -> Result<Json<ImportStatus>, ApiError> {
    Ok(Json(imports::status(caller, id).await?))
}

/// Every rejected row as CSV (`line,field,code,message`), streamed page by page.
pub async fn errors_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let org_id = caller.tenant.org_id();
    imports::status(caller, id).await?;
    let header = Bytes::from_static(b"line,field,code,message\n");
    let file_name = format!("import-{id}-errors.csv");
    let pages = stream::unfold(Some(None::<(i64, String)>), move |after| {
        let db = state.db.clone();
        async move {
            let after = after?;
            let page = match imports::errors_page(&db, org_id, id, after, ERROR_PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, import_id = %id, "could not read an import's errors");
                    return Some((Err(std::io::Error::other("could not read the errors")), None));
                }
            };
            let next = (page.len() as i64 == ERROR_PAGE)
                .then(|| page.last().map(|e| (e.line, e.field.clone())))
                .flatten();
            let bytes = csv_rows(&page);
            Some((Ok(bytes), next.map(Some)))
        }
    });
    Ok(super::csv_download(&file_name, header, pages))
}

fn csv_rows(page: &[RowError]) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for e in page {
        // Writing to memory cannot fail.
        let _ = writer.write_record([e.line.to_string().as_str(), &e.field, &e.code, &e.message]);
    }
    Bytes::from(writer.into_inner().unwrap_or_default())
}
