//! CSV imports (SPEC ING-5): a file is streamed into the database in fixed-size chunks (never
//! held whole in memory), then read by a durable background job that writes its rows through
//! the same parsers and write path as the REST API, in batches, each in one transaction that
//! also records the rejected rows and moves the import's resume point past them. A worker
//! stopped or killed mid-file resumes exactly where the last committed batch ended: no row is
//! skipped and none is written twice.
//!
//! Columns are the records' JSON field names. Orders come one row per order line, the lines of
//! one order on consecutive rows sharing its `external_id`, with the line's `sku`, `quantity`
//! and `unit_price` as columns; the order's own fields are read from its first row.

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use chrono::{DateTime, Utc};
use csv_rows::{Row, RowIssue, RowSplitter, MAX_ROW_BYTES};
use domain::records::{
    CompetitorPrice, Customer, Interaction, InventoryLevel, IssueCode, Order, Product, Review,
};
use domain::Permission;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::super::caller::Caller;
use super::super::error::{ApiError, FieldError};
use super::super::jobs::{self, Claimed, Finish, JobError};
use super::super::quota;
use super::super::state::AppState;
use super::super::tenant::{OrgId, TenantTx};
use super::batch::Kind;
use super::Lineage;

/// Size of the stored pieces of a file (the last one may be shorter).
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// Largest file accepted.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Rows written per transaction.
const BATCH_ROWS: usize = 5_000;

/// Times a batch is written before a deadlock counts as the job's failure.
const TRANSIENT_TRIES: u32 = 5;

/// What one batch adds to the import's counts, and where the next one starts (byte, line).
#[derive(Clone, Copy, Debug)]
struct Counts {
    done: i64,
    accepted: i64,
    rejected: i64,
    next: (u64, u64),
}

/// Columns of an order row that describe one of its lines.
const LINE_COLUMNS: [&str; 3] = ["sku", "quantity", "unit_price"];

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Customers,
    Interactions,
    Orders,
    Products,
    Reviews,
    CompetitorPrices,
    Inventory,
}

impl Entity {
    pub const ALL: [Entity; 7] = [
        Entity::Customers,
        Entity::Interactions,
        Entity::Orders,
        Entity::Products,
        Entity::Reviews,
        Entity::CompetitorPrices,
        Entity::Inventory,
    ];

    /// Its name in `import_batches.entity` (and in the API; `competitor-prices` also reads).
    pub fn name(self) -> &'static str {
        match self {
            Entity::Customers => Customer::ENTITY,
            Entity::Interactions => Interaction::ENTITY,
            Entity::Orders => Order::ENTITY,
            Entity::Products => Product::ENTITY,
            Entity::Reviews => Review::ENTITY,
            Entity::CompetitorPrices => CompetitorPrice::ENTITY,
            Entity::Inventory => InventoryLevel::ENTITY,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().replace('-', "_");
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The CSV columns, in their documented order.
    pub fn columns(self) -> Vec<&'static str> {
        match self {
            Entity::Customers => Customer::FIELDS.to_vec(),
            Entity::Interactions => Interaction::FIELDS.to_vec(),
            Entity::Orders => Order::FIELDS
                .iter()
                .copied()
                .filter(|f| *f != "lines")
                .chain(LINE_COLUMNS)
                .collect(),
            Entity::Products => Product::FIELDS.to_vec(),
            Entity::Reviews => Review::FIELDS.to_vec(),
            Entity::CompetitorPrices => CompetitorPrice::FIELDS.to_vec(),
            Entity::Inventory => InventoryLevel::FIELDS.to_vec(),
        }
    }

    /// Columns every file must have: the fields a record cannot do without.
    fn required_columns(self) -> Vec<String> {
        let empty = Value::Object(Map::new());
        let now = Utc::now();
        let issues = match self {
            Entity::Customers => Customer::parse(&empty, now).err(),
            Entity::Interactions => Interaction::parse(&empty, now).err(),
            Entity::Orders => Order::parse(&empty, now).err(),
            Entity::Products => Product::parse(&empty, now).err(),
            Entity::Reviews => Review::parse(&empty, now).err(),
            Entity::CompetitorPrices => CompetitorPrice::parse(&empty, now).err(),
            Entity::Inventory => InventoryLevel::parse(&empty, now).err(),
        };
        issues
            .unwrap_or_default()
            .into_iter()
            .filter(|issue| issue.code == IssueCode::Required)
            .map(|issue| issue.field)
            .collect()
    }
}

/// Maps a file's header onto record fields. `mapping` renames columns (header → field; an
/// empty field ignores the column); other headers must be field names (any case). Answers
/// the field of each column (`""` for ignored ones), or every problem with the header.
pub fn map_header(
    entity: Entity,
    header: &[String],
    mapping: &HashMap<String, String>,
) -> Result<Vec<String>, Vec<FieldError>> {
    let known = entity.columns();
    let expected = known.join(", ");
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut columns = Vec::with_capacity(header.len());
    for cell in header {
        let field = match mapping.get(cell.as_str()) {
            Some(target) => target.trim().to_owned(),
            None => cell.trim().to_ascii_lowercase(),
        };
        if field.is_empty() {
            columns.push(String::new());
            continue;
        }
        if !known.contains(&field.as_str()) {
            problems.push(FieldError::new(
                "header",
                "unknown_column",
                format!("unknown column \"{cell}\"; the expected columns are: {expected}"),
            ));
        } else if !seen.insert(field.clone()) {
            problems.push(FieldError::new(
                "header",
                "duplicate_column",
                format!("more than one column is \"{field}\""),
            ));
        }
        columns.push(field);
    }
    for required in entity.required_columns() {
        let present = if required == "lines" {
            true
        } else {
            seen.contains(&required)
        };
        if !present {
            problems.push(FieldError::new(
                "header",
                "missing_column",
                format!("the column \"{required}\" is required; the expected columns are: {expected}"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(problems)
    }
}

/// What the client sends with a file besides its bytes.
#[derive(Debug, Default)]
pub struct Upload {
    pub file_name: Option<String>,
    pub mapping: HashMap<String, String>,
}

/// Stores an uploaded CSV file and queues its import, all in one transaction; answers the
/// import's id. The header is checked first: a file whose header does not fit the entity is
/// refused (422, listing the expected columns) before anything is stored.
pub async fn start(mut caller: Caller, entity: Entity, upload: Upload, body: Body) -> Result<Uuid, ApiError> {
    caller.require(Permission::Ingest, "import.started").await?;
    let mut stream = body.into_data_stream();
    let mut splitter = RowSplitter::new();
    let mut import: Option<Uuid> = None;
    let mut pending: Vec<u8> = Vec::with_capacity(CHUNK_BYTES * 2);
    let mut seq = 0i32;
    let mut total = 0u64;
    let mut reached_end = false;
    loop {
        let bytes = match stream.next().await {
            Some(Ok(bytes)) => bytes,
            // The size is checked below; a body error is the client going away.
            Some(Err(error)) => {
                return Err(ApiError::BadRequest(format!(
                    "the upload was interrupted: {error}"
                )))
            }
            None => {
                reached_end = true;
                axum::body::Bytes::new()
            }
        };
        total += bytes.len() as u64;
        if total > MAX_FILE_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "a file may hold at most {MAX_FILE_BYTES} bytes"
            )));
        }
        if import.is_none() {
            let mut rows = Vec::new();
            splitter.push(&bytes, &mut rows);
            if reached_end {
                splitter.finish(&mut rows);
            }
            if let Some(header) = rows.into_iter().next() {
                import = Some(create(&mut caller, entity, &upload, header).await?);
            } else if reached_end {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "file",
                    "empty",
                    format!(
                        "the file is empty; its first row must name the columns: {}",
                        entity.columns().join(", ")
                    ),
                )]));
            } else if total > MAX_ROW_BYTES as u64 {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "header",
                    "too_long",
                    "no header row found in the first megabyte",
                )]));
            }
        }
        pending.extend_from_slice(&bytes);
        if let Some(id) = import {
            while pending.len() >= CHUNK_BYTES || (reached_end && !pending.is_empty()) {
                let take = pending.len().min(CHUNK_BYTES);
                store_chunk(&mut caller.tenant, id, seq, &pending[..take]).await?;
                pending.drain(..take);
                seq += 1;
            }
        }
        if reached_end {
            break;
        }
    }
    let id = import.expect("the header was read before the end");
    sqlx::query("update import_batches set bytes_total = $3 where org_id = $1 and id = $2")
        .bind(caller.tenant.org_id())
        .bind(id)
        .bind(total as i64)
        .execute(caller.tenant.conn())
        .await?;
    jobs::enqueue(
        &mut caller.tenant,
        "import",
        serde_json::json!({ "import_id": id }),
    )
    .await?;
    caller.audit("import.started", "import", id.to_string()).await?;
    caller.tenant.commit().await?;
    tracing::info!(import_id = %id, entity = entity.name(), bytes = total, "import queued");
    Ok(id)
}

/// Checks the header row and records the import; its rows start after the header.
async fn create(caller: &mut Caller, entity: Entity, upload: &Upload, header: Row) -> Result<Uuid, ApiError> {
    let cells = header
        .fields
        .map_err(|issue| ApiError::Validation(vec![FieldError::new("header", issue.code, issue.message)]))?;
    let columns = map_header(entity, &cells, &upload.mapping).map_err(ApiError::Validation)?;
    let file_name = upload
        .file_name
        .as_deref()
        .map(|name| name.chars().take(255).collect::<String>());
    let id = sqlx::query_scalar(
        "insert into import_batches
             (org_id, source, entity, status, file_name, columns, resume_offset, resume_line,
              created_by, created_by_api_key)
         values ($1, 'csv', $2, 'pending', $3, $4, $5, $6, $7, $8)
         returning id",
    )
    .bind(caller.tenant.org_id())
    .bind(entity.name())
    .bind(file_name)
    .bind(&columns)
    .bind(header.end as i64)
    .bind(header.next_line as i64)
    .bind(caller.user_id())
    .bind(caller.api_key_id())
    .fetch_one(caller.tenant.conn())
    .await?;
    Ok(id)
}

async fn store_chunk(tenant: &mut TenantTx, id: Uuid, seq: i32, data: &[u8]) -> Result<(), ApiError> {
    sqlx::query("insert into import_chunks (org_id, batch_id, seq, data) values ($1, $2, $3, $4)")
        .bind(tenant.org_id())
        .bind(id)
        .bind(seq)
        .bind(data)
        .execute(tenant.conn())
        .await?;
    Ok(())
}

/// An import as its progress page shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ImportStatus {
    pub id: Uuid,
    pub entity: String,
    pub status: String,
    pub file_name: Option<String>,
    pub rows_done: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub bytes_total: Option<i64>,
    /// Bytes read so far, for a progress bar (`bytes_done / bytes_total`).
    pub bytes_done: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One CSV import of the caller's organization (404 for another organization's).
pub async fn status(mut caller: Caller, id: Uuid) -> Result<ImportStatus, ApiError> {
    caller.require(Permission::ReadData, "import.read").await?;
    let found = sqlx::query_as(
        "select id, entity, status, file_name, rows_done, rows_accepted, rows_rejected, bytes_total,
                case when status = 'succeeded' then coalesce(bytes_total, resume_offset) else resume_offset end
                    as bytes_done,
                error, created_at, finished_at
         from import_batches where org_id = $1 and id = $2 and source = 'csv'",
    )
    .bind(caller.tenant.org_id())
    .bind(id)
    .fetch_optional(caller.tenant.conn())
    .await?;
    found.ok_or(ApiError::NotFound)
}

/// One rejected row of an import.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RowError {
    pub line: i64,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// Rejected rows of an import after `after` (line, field), in line order, at most `limit`.
/// The caller's tenant must own the import (checked by `status` before the first page).
pub async fn errors_page(
    db: &PgPool,
    org_id: OrgId,
    id: Uuid,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<RowError>, ApiError> {
    let mut tenant = TenantTx::begin(db, org_id).await?;
    let (line, field) = after.unwrap_or((0, String::new()));
    let page = sqlx::query_as(
        "select line, field, code, message from import_errors
         where org_id = $1 and batch_id = $2 and (line, field) > ($3, $4)
         order by line, field limit $5",
    )
    .bind(org_id)
    .bind(id)
    .bind(line)
    .bind(field)
    .bind(limit)
    .fetch_all(tenant.conn())
    .await?;
    tenant.commit().await?;
    Ok(page)
}

/// Marks an import failed for good (its job died or cannot go on).
pub async fn mark_failed(db: &PgPool, job: &Claimed, reason: &str) -> Result<(), sqlx::Error> {
    let Some(id) = import_id(job) else {
        return Ok(());
    };
    let org_id = job.org();
    let mut tenant = TenantTx::begin(db, org_id).await?;
    sqlx::query(
        "update import_batches set status = 'failed', error = $3, finished_at = now(), updated_at = now()
         where org_id = $1 and id = $2 and status <> 'succeeded'",
    )
    .bind(org_id)
    .bind(id)
    .bind(reason)
    .execute(tenant.conn())
    .await?;
    tenant.commit().await
}

fn import_id(job: &Claimed) -> Option<Uuid> {
    job.payload["import_id"].as_str()?.parse().ok()
}

/// Where an import stands, as stored.
#[derive(Debug, sqlx::FromRow)]
struct Stored {
    entity: String,
    status: String,
    columns: Vec<String>,
    resume_offset: i64,
    resume_line: i64,
}

/// Runs (or resumes) the import a job names until the file ends or `stop` is set.
pub async fn run(state: &AppState, job: &Claimed, stop: &watch::Receiver<bool>) -> Result<Finish, JobError> {
    let id = import_id(job).ok_or_else(|| JobError::Failed("the job names no import".into()))?;
    let org_id = job.org();
    let mut tenant = TenantTx::begin(&state.db, org_id).await?;
    let stored: Option<Stored> = sqlx::query_as(
        "update import_batches set status = case when status = 'pending' then 'running' else status end,
                                   updated_at = now()
         where org_id = $1 and id = $2
         returning entity, status, columns, resume_offset, resume_line",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(tenant.conn())
    .await?;
    tenant.commit().await?;
    let Some(stored) = stored else {
        return Ok(Finish::Done);
    };
    if stored.status == "succeeded" || stored.status == "failed" {
        return Ok(Finish::Done);
    }
    let reader = ImportReader {
        db: &state.db,
        org_id,
        id,
        columns: stored.columns,
        offset: stored.resume_offset as u64,
        line: stored.resume_line as u64,
    };
    match Entity::parse(&stored.entity) {
        Some(Entity::Customers) => reader.run::<Customer>(stop).await,
        Some(Entity::Interactions) => reader.run::<Interaction>(stop).await,
        Some(Entity::Orders) => reader.run::<Order>(stop).await,
        Some(Entity::Products) => reader.run::<Product>(stop).await,
        Some(Entity::Reviews) => reader.run::<Review>(stop).await,
        Some(Entity::CompetitorPrices) => reader.run::<CompetitorPrice>(stop).await,
        Some(Entity::Inventory) => reader.run::<InventoryLevel>(stop).await,
        None => Err(JobError::Failed(format!("unknown entity {}", stored.entity))),
    }
}

/// Rows grouped into records: one row each, or an order's consecutive rows.
#[derive(Debug)]
struct Unit {
    lines: Vec<i64>,
    content: Result<Value, RowIssue>,
    end: u64,
    next_line: u64,
    /// An order that the next row may still extend.
    open: bool,
}

struct ImportReader<'a> {
    db: &'a PgPool,
    org_id: OrgId,
    id: Uuid,
    columns: Vec<String>,
    offset: u64,
    line: u64,
}

impl ImportReader<'_> {
    async fn run<K: Kind>(mut self, stop: &watch::Receiver<bool>) -> Result<Finish, JobError> {
        let grouped = K::ENTITY == Order::ENTITY;
        let mut splitter = RowSplitter::resume_at(self.offset, self.line);
        splitter.expect_columns(self.columns.len());
        let mut seq = (self.offset / CHUNK_BYTES as u64) as i32;
        let mut skip = (self.offset % CHUNK_BYTES as u64) as usize;
        let mut units: Vec<Unit> = Vec::new();
        let mut rows = Vec::new();
        loop {
            if *stop.borrow() {
                return Ok(Finish::Stopped);
            }
            let chunk = self.chunk(seq).await?;
            let at_end = chunk.is_none();
            match chunk {
                Some(data) => {
                    splitter.push(data.get(skip..).unwrap_or_default(), &mut rows);
                    skip = 0;
                    seq += 1;
                }
                None => splitter.finish(&mut rows),
            }
            for row in rows.drain(..) {
                self.add_row(&mut units, row, grouped);
            }
            if at_end {
                for unit in &mut units {
                    unit.open = false;
                }
            }
            loop {
                let ready = units.iter().take_while(|u| !u.open).count();
                let rows_ready: usize = units[..ready].iter().map(|u| u.lines.len()).sum();
                if ready == 0 || (rows_ready < BATCH_ROWS && !at_end) {
                    break;
                }
                let mut take = 0;
                let mut taken_rows = 0;
                while take < ready && taken_rows < BATCH_ROWS {
                    taken_rows += units[take].lines.len();
                    take += 1;
                }
                let batch: Vec<Unit> = units.drain(..take).collect();
                match self.write::<K>(batch).await? {
                    Written::Continued => {}
                    Written::Superseded => return Ok(Finish::Stopped),
                    Written::OverQuota(reason) => {
                        self.finish("failed", Some(&reason)).await?;
                        return Ok(Finish::Done);
                    }
                }
                if *stop.borrow() {
                    return Ok(Finish::Stopped);
                }
            }
            if at_end {
                self.finish("succeeded", None).await?;
                return Ok(Finish::Done);
            }
        }
    }

    async fn chunk(&self, seq: i32) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let mut tenant = TenantTx::begin(self.db, self.org_id).await?;
        let data = sqlx::query_scalar(
            "select data from import_chunks where org_id = $1 and batch_id = $2 and seq = $3",
        )
        .bind(self.org_id)
        .bind(self.id)
        .bind(seq)
        .fetch_optional(tenant.conn())
        .await?;
        tenant.commit().await?;
        Ok(data)
    }

    /// Turns a row into a record (or, for orders, into a line of the open order).
    fn add_row(&self, units: &mut Vec<Unit>, row: Row, grouped: bool) {
        let line = row.line as i64;
        let position = (row.end, row.next_line);
        let cells = match row.fields {
            Ok(cells) if cells.len() == self.columns.len() => cells,
            Ok(cells) => {
                let issue = RowIssue {
                    code: "wrong_column_count",
                    message: format!("expected {} columns, found {}", self.columns.len(), cells.len()),
                };
                return push(units, closed(line, Err(issue), position));
            }
            Err(issue) => return push(units, closed(line, Err(issue), position)),
        };
        let mut object = Map::new();
        let mut order_line = Map::new();
        for (column, cell) in self.columns.iter().zip(cells) {
            if column.is_empty() {
                continue;
            }
            let value = if column == "metadata" && !cell.trim().is_empty() {
                serde_json::from_str::<Value>(&cell).unwrap_or(Value::String(cell))
            } else {
                Value::String(cell)
            };
            if grouped && LINE_COLUMNS.contains(&column.as_str()) {
                order_line.insert(column.clone(), value);
            } else {
                object.insert(column.clone(), value);
            }
        }
        if !grouped {
            return push(units, closed(line, Ok(Value::Object(object)), position));
        }
        let has_line = order_line
            .values()
            .any(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()));
        let external_id = object.get("external_id").cloned();
        if let Some(open) = units.last_mut().filter(|u| u.open) {
            if let Ok(Value::Object(order)) = &mut open.content {
                if external_id.is_some() && order.get("external_id") == external_id.as_ref() {
                    if has_line {
                        if let Some(Value::Array(lines)) = order.get_mut("lines") {
                            lines.push(Value::Object(order_line));
                        }
                    }
                    open.lines.push(line);
                    (open.end, open.next_line) = position;
                    return;
                }
            }
        }
        let lines = if has_line {
            vec![Value::Object(order_line)]
        } else {
            Vec::new()
        };
        object.insert("lines".into(), Value::Array(lines));
        push(
            units,
            Unit {
                lines: vec![line],
                content: Ok(Value::Object(object)),
                end: position.0,
                next_line: position.1,
                open: true,
            },
        );
    }

    /// Writes one batch of records in one transaction with its rejected rows, its counts and
    /// the new resume point — unless another worker has moved the import on meanwhile.
    async fn write<K: Kind>(&mut self, batch: Vec<Unit>) -> Result<Written, JobError> {
        let now = Utc::now();
        let last = batch
            .last()
            .map(|u| (u.end, u.next_line))
            .expect("a batch is never empty");
        let mut valid: Vec<K> = Vec::new();
        let mut valid_lines: Vec<i64> = Vec::new();
        let mut errors: Vec<RowError> = Vec::new();
        let (mut done, mut accepted, mut rejected) = (0i64, 0i64, 0i64);
        for unit in batch {
            let rows = unit.lines.len() as i64;
            done += rows;
            let first = unit.lines[0];
            let issues = match unit.content {
                Err(issue) => {
                    errors.push(RowError {
                        line: first,
                        field: String::new(),
                        code: issue.code.to_owned(),
                        message: issue.message,
                    });
                    rejected += rows;
                    continue;
                }
                Ok(value) => match K::parse(&value, now) {
                    Ok(record) => {
                        valid.push(record);
                        valid_lines.push(first);
                        accepted += rows;
                        continue;
                    }
                    Err(issues) => issues,
                },
            };
            rejected += rows;
            for issue in issues {
                let (line, field) = line_of_field(&unit.lines, &issue.field);
                errors.push(RowError {
                    line,
                    field,
                    code: issue.code.as_str().to_owned(),
                    message: issue.message,
                });
            }
        }
        K::prepare(self.db, &valid).await?;
        let counts = Counts {
            done,
            accepted,
            rejected,
            next: last,
        };
        // A deadlock with another writer of the same customers undoes the whole batch; running
        // it again at once is what PostgreSQL asks for, and costs none of the job's attempts.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.commit::<K>(&valid, &valid_lines, &errors, &counts).await {
                Err(error) if error.is_transient() && tries < TRANSIENT_TRIES => {
                    tracing::warn!(import_id = %self.id, tries, "an import batch met a deadlock; writing it again");
                    tokio::time::sleep(std::time::Duration::from_millis(20 * tries as u64)).await;
                }
                Ok(Written::Continued) => {
                    (self.offset, self.line) = last;
                    return Ok(Written::Continued);
                }
                other => return other.map_err(JobError::from),
            }
        }
    }

    /// The batch's one transaction: its records, rejected rows, counts and resume point.
    async fn commit<K: Kind>(
        &self,
        valid: &[K],
        valid_lines: &[i64],
        errors: &[RowError],
        counts: &Counts,
    ) -> Result<Written, ApiError> {
        let Counts {
            done,
            accepted,
            rejected,
            next: last,
        } = *counts;
        let mut tenant = TenantTx::begin(self.db, self.org_id).await?;
        let position: Option<i64> = sqlx::query_scalar(
            "select resume_offset from import_batches where org_id = $1 and id = $2 for update",
        )
        .bind(self.org_id)
        .bind(self.id)
        .fetch_optional(tenant.conn())
        .await?;
        if position != Some(self.offset as i64) {
            tracing::warn!(import_id = %self.id, "another worker has moved this import on; stopping");
            return Ok(Written::Superseded);
        }
        let events = if K::COUNTS_AS_EVENTS {
            valid.len() as i64
        } else {
            0
        };
        match quota::check(&mut tenant, events).await {
            Ok(_) => {}
            Err(quota @ ApiError::QuotaExceeded { .. }) => {
                return Ok(Written::OverQuota(format!(
                    "stopped at line {}: {quota}",
                    self.line
                )))
            }
            Err(other) => return Err(other),
        }
        let lineage = Lineage {
            batch_id: Some(self.id),
            lines: Some(valid_lines),
        };
        K::write(&mut tenant, valid, lineage).await?;
        quota::record(&mut tenant, events).await?;
        if !errors.is_empty() {
            sqlx::query(
                "insert into import_errors (org_id, batch_id, line, field, code, message)
                 select $1, $2, e.line, e.field, e.code, e.message
                 from unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) as e(line, field, code, message)
                 on conflict do nothing",
            )
            .bind(self.org_id)
            .bind(self.id)
            .bind(errors.iter().map(|e| e.line).collect::<Vec<_>>())
            .bind(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>())
            .bind(errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>())
            .bind(errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>())
            .execute(tenant.conn())
            .await?;
        }
        sqlx::query(
            "update import_batches set rows_done = rows_done + $3, rows_accepted = rows_accepted + $4,
                    rows_rejected = rows_rejected + $5, resume_offset = $6, resume_line = $7, updated_at = now()
             where org_id = $1 and id = $2",
        )
        .bind(self.org_id)
        .bind(self.id)
        .bind(done)
        .bind(accepted)
        .bind(rejected)
        .bind(last.0 as i64)
        .bind(last.1 as i64)
        .execute(tenant.conn())
        .await?;
        tenant.commit().await?;
        Ok(Written::Continued)
    }

    /// Ends the import: its final status, its stored file dropped and, when it succeeded, a
    /// scoring run queued.
    async fn finish(&self, status: &str, error: Option<&str>) -> Result<(), sqlx::Error> {
        let mut tenant = TenantTx::begin(self.db, self.org_id).await?;
        sqlx::query(
            "update import_batches set status = $3, error = $4, rows_total = rows_done, finished_at = now(),
                    updated_at = now()
             where org_id = $1 and id = $2",
        )
        .bind(self.org_id)
        .bind(self.id)
        .bind(status)
        .bind(error)
        .execute(tenant.conn())
        .await?;
        sqlx::query("delete from import_chunks where org_id = $1 and batch_id = $2")
            .bind(self.org_id)
            .bind(self.id)
            .execute(tenant.conn())
            .await?;
        if status == "succeeded" {
            // New data: scores are recomputed (one run however many imports finish meanwhile).
            crate::backend::analytics::scoring::request(&mut tenant).await?;
        }
        tenant.commit().await?;
        tracing::info!(import_id = %self.id, status, "import finished");
        Ok(())
    }
}

/// What writing a batch came to.
enum Written {
    Continued,
    /// Another worker wrote past this point: this one must stop.
    Superseded,
    /// The monthly event quota is used up.
    OverQuota(String),
}

/// Appends a unit; the order before it, if still open, is complete.
fn push(units: &mut Vec<Unit>, unit: Unit) {
    if let Some(open) = units.last_mut() {
        open.open = false;
    }
    units.push(unit);
}

fn closed(line: i64, content: Result<Value, RowIssue>, (end, next_line): (u64, u64)) -> Unit {
    Unit {
        lines: vec![line],
        content,
        end,
        next_line,
        open: false,
    }
}

/// The CSV line and column a record's field issue belongs to: `lines[i].sku` of an order is
/// the `sku` column of the order's i-th row; any other field is on the record's first row.
fn line_of_field(lines: &[i64], field: &str) -> (i64, String) {
    if let Some(rest) = field.strip_prefix("lines[") {
        if let Some((index, column)) = rest.split_once("].") {
            if let Some(&line) = index.parse::<usize>().ok().and_then(|i| lines.get(i)) {
                return (line, column.to_owned());
            }
        }
    }
    (lines[0], field.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn a_header_of_field_names_maps_in_any_case_and_order() {
        let columns = map_header(
            Entity::Interactions,
            &header(&[
                "Channel",
                "external_id",
                "customer_external_id",
                "occurred_at",
                "event_type",
            ]),
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(columns[0], "channel");
    }

    #[test]
    fn unknown_and_missing_columns_are_all_listed_with_the_expected_ones() {
        let problems =
            map_header(Entity::Interactions, &header(&["id", "when"]), &HashMap::new()).unwrap_err();
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        assert!(
            codes.iter().filter(|c| **c == "unknown_column").count() == 2,
            "{codes:?}"
        );
        assert!(codes.contains(&"missing_column"));
        assert!(problems[0].message.contains("customer_external_id"));
    }

    #[test]
    fn a_mapping_renames_and_ignores_columns() {
        let mapping = HashMap::from([
            ("Order".to_string(), "external_id".to_string()),
            ("Buyer".to_string(), "customer_external_id".to_string()),
            ("Notes".to_string(), String::new()),
        ]);
        let columns = map_header(
            Entity::Orders,
            &header(&[
                "Order",
                "Buyer",
                "ordered_at",
                "currency",
                "total",
                "Notes",
                "sku",
            ]),
            &mapping,
        )
        .unwrap();
        assert_eq!(
            columns,
            [
                "external_id",
                "customer_external_id",
                "ordered_at",
                "currency",
                "total",
                "",
                "sku"
            ]
        );
    }

    #[test]
    fn order_line_issues_point_at_the_row_of_that_line() {
        assert_eq!(
            line_of_field(&[5, 6, 7], "lines[2].quantity"),
            (7, "quantity".to_owned())
        );
        assert_eq!(line_of_field(&[5, 6, 7], "currency"), (5, "currency".to_owned()));
    }
}
