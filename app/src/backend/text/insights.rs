//! Review and conversation insights (SPEC TXT-2) on the organization's own texts: what a
//! product's reviews say aspect by aspect and which topics they fall into, what customers
//! complain about, and what they ask for. Computed on request from the newest texts (capped,
//! and the answer says so), in the caller's tenant scope; the summarising is
//! `text::insights`.

use std::collections::HashSet;

use analytics::{wilson, Analysis, Interval};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use text::insights::{aspects, complaints, requests, topics, Doc, Pattern};
use uuid::Uuid;

use super::scorers;
use super::search::channel_param;
use crate::backend::analytics::reports::{day_range, limit, require_product, ProductRef};
use crate::backend::analytics::scoring::midnight;
use crate::backend::caller::Caller;
use crate::backend::error::ApiError;
use domain::access::Permission;

/// Reviews read for a product's insights: the newest this many.
pub const MAX_REVIEWS: i64 = 2_000;
/// Reviews clustered into topics: the newest this many (embedding them takes about a second).
pub const MAX_TOPIC_REVIEWS: usize = 500;
/// A product needs this many reviews for insights.
pub const MIN_REVIEWS: usize = 5;
/// At most this many topics.
const MAX_TOPICS: usize = 8;
/// Texts read for complaints or requests: the newest this many in the range.
pub const MAX_TEXTS: i64 = 5_000;
/// Intervals on shares are at this level.
const LEVEL: f64 = 0.9;
/// Examples are cut to this many characters.
const EXAMPLE_CHARS: usize = 280;

/// A text shown as evidence: where it is, who wrote it, when, and the words that count.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// `review` or `interaction`.
    pub kind: &'static str,
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub written_at: DateTime<Utc>,
    /// Interactions: their channel.
    pub channel: Option<String>,
    /// Reviews: their rating and product.
    pub rating: Option<i16>,
    pub product_id: Option<Uuid>,
    pub text: String,
}

/// Columns every text query selects, in [`TextRow`]'s order.
const INTERACTION_COLUMNS: &str = "'interaction' as kind, i.id, i.customer_id, i.occurred_at as written_at, \
i.channel, null::smallint as rating, null::uuid as product_id, i.content, s.label";
const REVIEW_COLUMNS: &str = "'review' as kind, r.id, r.customer_id, r.reviewed_at as written_at, \
null::text as channel, r.rating, r.product_id, r.content, s.label";

/// One text read from the database.
#[derive(sqlx::FromRow)]
struct TextRow {
    kind: String,
    id: Uuid,
    customer_id: Option<Uuid>,
    written_at: DateTime<Utc>,
    channel: Option<String>,
    rating: Option<i16>,
    product_id: Option<Uuid>,
    content: String,
    label: Option<String>,
}

impl TextRow {
    fn example(&self, text: &str) -> Example {
        Example {
            kind: if self.kind == "review" {
                "review"
            } else {
                "interaction"
            },
            id: self.id,
            customer_id: self.customer_id,
            written_at: self.written_at,
            channel: self.channel.clone(),
            rating: self.rating,
            product_id: self.product_id,
            text: excerpt(text),
        }
    }
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(EXAMPLE_CHARS) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

/// The rows in order, each wording once (the same complaint sent twice is one example).
fn distinct_texts<'a, 'b>(rows: &'b [&'a TextRow]) -> impl Iterator<Item = &'a TextRow> + 'b {
    let mut seen = HashSet::new();
    rows.iter()
        .copied()
        .filter(move |r| seen.insert(r.content.trim().to_lowercase()))
}

fn docs(rows: &[TextRow], now: DateTime<Utc>) -> Vec<Doc<'_>> {
    rows.iter()
        .map(|r| Doc {
            text: &r.content,
            age_days: (now - r.written_at).num_seconds() as f64 / 86_400.0,
        })
        .collect()
}

// ------------------------------------------------------------------ a product's reviews

/// What one aspect's reviews say.
#[derive(Debug, Serialize)]
pub struct AspectView {
    pub key: String,
    pub label: String,
    /// A subject found in the reviews rather than one of the fixed aspects.
    pub discovered: bool,
    pub reviews: usize,
    /// Share of the product's reviews mentioning it.
    pub mentioned_by: Interval,
    pub positive: usize,
    pub neutral: usize,
    pub negative: usize,
    /// Share of the reviews mentioning it that are negative about it.
    pub negative_share: Interval,
    /// Mean tone of what they say about it, in [−1, 1].
    pub mean_tone: f64,
    /// The newest clauses praising and criticising it.
    pub praise: Vec<Example>,
    pub complaints: Vec<Example>,
}

#[derive(Debug, Serialize)]
pub struct TopicView {
    /// The keywords joined, as a name.
    pub label: String,
    pub keywords: Vec<String>,
    pub reviews: usize,
    pub share: f64,
    pub mean_rating: f64,
    /// Mean cosine similarity of its reviews to its centre.
    pub cohesion: f64,
    /// The reviews nearest its centre.
    pub representatives: Vec<Example>,
}

#[derive(Debug, Serialize)]
pub struct TopicsView {
    /// `embeddings` (the sentence model) or `tfidf` (word counts, when the model is absent).
    pub vectors: &'static str,
    pub reviews: usize,
    /// How well the topics separate, in [−1, 1] (near 0: they overlap).
    pub silhouette: f64,
    pub topics: Vec<TopicView>,
}

/// The share of reviews scored positive, neutral and negative by the sentiment worker.
#[derive(Debug, Serialize)]
pub struct SentimentMix {
    pub scored: usize,
    pub positive: Interval,
    pub neutral: Interval,
    pub negative: Interval,
}

#[derive(Debug, Serialize)]
pub struct ReviewInsights {
    pub product: ProductRef,
    /// Reviews read (spam-flagged ones left out), newest first up to [`MAX_REVIEWS`].
    pub reviews: usize,
    pub capped: bool,
    pub first_review: DateTime<Utc>,
    pub last_review: DateTime<Utc>,
    pub average_rating: Interval,
    pub sentiment: SentimentMix,
    /// Fixed aspects first, by reviews mentioning them; then discovered subjects.
    pub aspects: Vec<AspectView>,
    pub topics: Analysis<TopicsView>,
    pub method: &'static str,
}

const REVIEW_METHOD: &str = "Each review is cut into clauses; a clause naming an aspect gives its tone \
(VADER with commerce words such as \"late\" and \"overpriced\") to that aspect, averaged per review. \
Subjects named in at least 5% of reviews (and 3) that are not fixed aspects are discovered. Topics are \
k-means clusters of the newest 500 reviews, the number of topics chosen by silhouette.";

/// `GET /api/v1/products/{id}/review-insights`.
pub async fn review_insights(mut caller: Caller, id: Uuid) -> Result<Analysis<ReviewInsights>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let product = require_product(&mut caller, id).await?;
    let rows: Vec<TextRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {REVIEW_COLUMNS}
         from reviews r
         left join text_scores s on s.org_id = r.org_id and s.subject = 'review' and s.subject_id = r.id
         where r.org_id = $1 and r.product_id = $2 and r.spam_reason is null
         order by r.reviewed_at desc, r.id
         limit $3"
    )))
    .bind(caller.tenant.org_id())
    .bind(id)
    .bind(MAX_REVIEWS)
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    if rows.len() < MIN_REVIEWS {
        return Ok(Analysis::insufficient(
            format!("at least {MIN_REVIEWS} reviews of the product (spam-flagged ones do not count)"),
            rows.len(),
            "import reviews with POST /api/v1/reviews/batch or a CSV upload",
        ));
    }
    let insights = tokio::task::spawn_blocking(move || summarise_reviews(product, rows))
        .await
        .map_err(|e| ApiError::Internal(e.to_string().into()))??;
    Ok(Analysis::Ready(insights))
}

fn summarise_reviews(product: ProductRef, rows: Vec<TextRow>) -> Result<ReviewInsights, ApiError> {
    let now = Utc::now();
    let docs = docs(&rows, now);
    let n = rows.len();
    let ignore: Vec<&str> = product.name.split_whitespace().collect();
    let aspects = aspects::summarise(&docs, &ignore)
        .into_iter()
        .map(|a| AspectView {
            mentioned_by: wilson(a.reviews, n, LEVEL),
            negative_share: wilson(a.negative, a.reviews, LEVEL),
            praise: a.praise.iter().map(|m| rows[m.doc].example(&m.clause)).collect(),
            complaints: a
                .complaints
                .iter()
                .map(|m| rows[m.doc].example(&m.clause))
                .collect(),
            key: a.key,
            label: a.label,
            discovered: a.discovered,
            reviews: a.reviews,
            positive: a.positive,
            neutral: a.neutral,
            negative: a.negative,
            mean_tone: a.mean_tone,
        })
        .collect();
    let ratings: Vec<f64> = rows.iter().filter_map(|r| r.rating).map(f64::from).collect();
    let labels: Vec<&str> = rows.iter().filter_map(|r| r.label.as_deref()).collect();
    let share = |label: &str| {
        wilson(
            labels.iter().filter(|l| **l == label).count(),
            labels.len(),
            LEVEL,
        )
    };
    Ok(ReviewInsights {
        reviews: n,
        capped: n as i64 == MAX_REVIEWS,
        first_review: rows.iter().map(|r| r.written_at).min().unwrap_or(now),
        last_review: rows.iter().map(|r| r.written_at).max().unwrap_or(now),
        average_rating: Interval::mean(&ratings, LEVEL),
        sentiment: SentimentMix {
            scored: labels.len(),
            positive: share("positive"),
            neutral: share("neutral"),
            negative: share("negative"),
        },
        aspects,
        topics: review_topics(&rows[..n.min(MAX_TOPIC_REVIEWS)])?,
        product,
        method: REVIEW_METHOD,
    })
}

/// Topics of the newest reviews, on sentence embeddings when the model is loaded.
fn review_topics(rows: &[TextRow]) -> Result<Analysis<TopicsView>, ApiError> {
    if rows.len() < topics::MIN_TEXTS {
        return Ok(Analysis::insufficient(
            format!("at least {} reviews for topics", topics::MIN_TEXTS),
            rows.len(),
            "topics appear once the product has more reviews",
        ));
    }
    let texts: Vec<&str> = rows.iter().map(|r| r.content.as_str()).collect();
    let (vectors, kind) = match scorers().embed(&texts) {
        Some(embedded) => {
            let embedded = embedded.map_err(|e| ApiError::Internal(Box::new(e)))?;
            let width = embedded.first().map_or(0, Vec::len);
            let flat: Vec<f64> = embedded.into_iter().flatten().collect();
            let matrix = ndarray::Array2::from_shape_vec((texts.len(), width), flat)
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
            (matrix, "embeddings")
        }
        None => (topics::tfidf_vectors(&texts, 2_000), "tfidf"),
    };
    let Some(found) = topics::topics(vectors.view(), &texts, MAX_TOPICS) else {
        return Ok(Analysis::insufficient("reviews that form topics", rows.len(), ""));
    };
    let n = rows.len();
    Ok(Analysis::Ready(TopicsView {
        vectors: kind,
        reviews: n,
        silhouette: found.silhouette,
        topics: found
            .topics
            .into_iter()
            .map(|t| {
                let ratings: Vec<f64> = t
                    .members
                    .iter()
                    .filter_map(|i| rows[*i].rating)
                    .map(f64::from)
                    .collect();
                TopicView {
                    label: t.keywords.join(" · "),
                    reviews: t.members.len(),
                    share: t.members.len() as f64 / n as f64,
                    mean_rating: ratings.iter().sum::<f64>() / ratings.len().max(1) as f64,
                    cohesion: t.cohesion,
                    representatives: distinct_texts(&t.members.iter().map(|i| &rows[*i]).collect::<Vec<_>>())
                        .take(3)
                        .map(|r| r.example(&r.content))
                        .collect(),
                    keywords: t.keywords,
                }
            })
            .collect(),
    }))
}

// ------------------------------------------------------------------ complaints and requests

/// `from`, `to` (days, default the last 90), `channel` (an interaction channel or `review`),
/// `limit` (patterns, 1..=50, default 10).
#[derive(Debug, Default, Deserialize)]
pub struct InsightQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<String>,
    pub limit: Option<String>,
}

struct Scope {
    from: NaiveDate,
    to: NaiveDate,
    channel: Option<&'static str>,
    limit: usize,
}

impl Scope {
    /// The range as instants: the first day's midnight up to the midnight after the last day.
    fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (midnight(self.from), midnight(self.to + chrono::Duration::days(1)))
    }
}

fn scope(query: &InsightQuery) -> Result<Scope, ApiError> {
    let (from, to) = day_range(query.from.as_deref(), query.to.as_deref(), 90)?;
    let channel = query
        .channel
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| channel_param(c, &["review"]))
        .transpose()?;
    let limit = limit(query.limit.as_deref(), 10, 50)?;
    Ok(Scope {
        from,
        to,
        channel,
        limit,
    })
}

/// A pattern of texts with its evidence.
#[derive(Debug, Serialize)]
pub struct PatternView {
    pub key: String,
    pub label: String,
    /// `aspect`, `word` (texts naming no aspect but sharing a word) or `request`.
    pub kind: &'static str,
    pub texts: usize,
    pub customers: usize,
    /// Share of the texts read that fall in it.
    pub share: Interval,
    /// Texts weighted by recency (half-life 30 days): what the list is ranked by.
    pub score: f64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Texts in the earlier and the later half of the range: is it growing?
    pub earlier_half: usize,
    pub later_half: usize,
    /// Words or wordings that recur in it, with how many texts use each.
    pub phrases: Vec<Phrase>,
    /// Its newest texts.
    pub examples: Vec<Example>,
}

#[derive(Debug, Serialize)]
pub struct Phrase {
    pub text: String,
    pub texts: usize,
}

#[derive(Debug, Serialize)]
pub struct PatternReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub channel: Option<&'static str>,
    /// Texts read, newest first up to [`MAX_TEXTS`]: for complaints the negative ones, for
    /// requests those holding a request cue.
    pub texts_read: usize,
    pub capped: bool,
    /// Texts read that are in none of the patterns listed.
    pub unmatched: usize,
    pub patterns: Vec<PatternView>,
    pub method: &'static str,
}

const COMPLAINT_METHOD: &str = "Texts scored negative by the sentiment worker, and reviews rated 1 or 2, \
are grouped by the aspect their negative clauses name (delivery, support, …) or, naming none, by a word \
many of them share; groups are ranked by texts weighted by recency (half-life 30 days).";

const REQUEST_METHOD: &str =
    "Clauses that ask for something (\"I wish…\", \"please add…\", \"would love…\") \
are grouped by the first three content words of what they ask for; groups are ranked by texts weighted by \
recency (half-life 30 days).";

/// `GET /api/v1/insights/complaints`.
pub async fn complaints(
    mut caller: Caller,
    query: &InsightQuery,
) -> Result<Analysis<PatternReport>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let scope = scope(query)?;
    let (start, end) = scope.bounds();
    // Interactions through their scores (negative ones in the range, by the time index);
    // reviews scored negative or rated 1–2, spam left out.
    let rows: Vec<TextRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "(select {INTERACTION_COLUMNS}
          from text_scores s
          join interactions i on i.org_id = s.org_id and i.occurred_at = s.written_at and i.id = s.subject_id
          where s.org_id = $1 and s.subject = 'interaction' and s.label = 'negative'
            and s.written_at >= $2 and s.written_at < $3 and ($4::text is null or s.channel = $4))
         union all
         (select {REVIEW_COLUMNS}
          from reviews r
          left join text_scores s on s.org_id = r.org_id and s.subject = 'review' and s.subject_id = r.id
          where r.org_id = $1 and r.spam_reason is null and r.reviewed_at >= $2 and r.reviewed_at < $3
            and ($4::text is null or $4 = 'review')
            and (s.label = 'negative' or r.rating <= 2))
         order by written_at desc, id
         limit $5"
    )))
    .bind(caller.tenant.org_id())
    .bind(start)
    .bind(end)
    .bind(scope.channel)
    .bind(MAX_TEXTS)
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    if rows.is_empty() {
        return Ok(Analysis::insufficient(
            "negative texts in the range",
            0,
            "texts are scored as they arrive; widen the range, or import interactions and reviews",
        ));
    }
    report(rows, scope, COMPLAINT_METHOD, |docs| {
        complaints::complaint_patterns(docs)
            .into_iter()
            .map(|p| {
                let kind = if p.key.starts_with("word:") {
                    "word"
                } else {
                    "aspect"
                };
                (kind, p)
            })
            .collect()
    })
    .await
    .map(Analysis::Ready)
}

/// `GET /api/v1/insights/feature-requests`.
pub async fn feature_requests(
    mut caller: Caller,
    query: &InsightQuery,
) -> Result<Analysis<PatternReport>, ApiError> {
    caller.require(Permission::ReadData, "analytics.read").await?;
    let scope = scope(query)?;
    let (start, end) = scope.bounds();
    // Only texts holding a request cue reach the summary (the cues as one regular expression).
    let rows: Vec<TextRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "(select {INTERACTION_COLUMNS}
          from interactions i
          left join text_scores s on s.org_id = i.org_id and s.subject = 'interaction' and s.subject_id = i.id
          where i.org_id = $1 and i.occurred_at >= $2 and i.occurred_at < $3
            and ($4::text is null or i.channel = $4) and i.content ~* $6)
         union all
         (select {REVIEW_COLUMNS}
          from reviews r
          left join text_scores s on s.org_id = r.org_id and s.subject = 'review' and s.subject_id = r.id
          where r.org_id = $1 and r.spam_reason is null and r.reviewed_at >= $2 and r.reviewed_at < $3
            and ($4::text is null or $4 = 'review') and r.content ~* $6)
         order by written_at desc, id
         limit $5"
    )))
    .bind(caller.tenant.org_id())
    .bind(start)
    .bind(end)
    .bind(scope.channel)
    .bind(MAX_TEXTS)
    .bind(requests::cue_pattern())
    .fetch_all(caller.tenant.conn())
    .await?;
    caller.tenant.commit().await?;
    let answer = report(rows, scope, REQUEST_METHOD, |docs| {
        requests::feature_requests(docs)
            .into_iter()
            .map(|p| ("request", p))
            .collect()
    })
    .await?;
    if answer.patterns.is_empty() {
        return Ok(Analysis::insufficient(
            "texts asking for something in the range",
            0,
            "requests are found in texts such as \"please add…\" or \"I wish it had…\"; widen the range",
        ));
    }
    Ok(Analysis::Ready(answer))
}

/// Summarises the texts off the executor and shows the top `scope.limit` patterns.
async fn report(
    rows: Vec<TextRow>,
    scope: Scope,
    method: &'static str,
    summarise: fn(&[Doc]) -> Vec<(&'static str, Pattern)>,
) -> Result<PatternReport, ApiError> {
    tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let docs = docs(&rows, now);
        let patterns: Vec<(&'static str, Pattern)> = summarise(&docs).into_iter().take(scope.limit).collect();
        let in_any: HashSet<usize> = patterns
            .iter()
            .flat_map(|(_, p)| p.docs.iter().copied())
            .collect();
        let (start, end) = scope.bounds();
        let mid = start + (end - start) / 2;
        let n = rows.len();
        let views = patterns
            .into_iter()
            .map(|(kind, p)| {
                let members: Vec<&TextRow> = p.docs.iter().map(|i| &rows[*i]).collect();
                let customers: HashSet<Uuid> = members.iter().filter_map(|r| r.customer_id).collect();
                PatternView {
                    kind,
                    texts: members.len(),
                    customers: customers.len(),
                    share: wilson(members.len(), n, LEVEL),
                    score: p.score,
                    first_seen: members.iter().map(|r| r.written_at).min().unwrap_or(now),
                    last_seen: members.iter().map(|r| r.written_at).max().unwrap_or(now),
                    earlier_half: members.iter().filter(|r| r.written_at < mid).count(),
                    later_half: members.iter().filter(|r| r.written_at >= mid).count(),
                    phrases: p
                        .phrases
                        .into_iter()
                        .map(|(text, texts)| Phrase { text, texts })
                        .collect(),
                    examples: distinct_texts(&members)
                        .take(3)
                        .map(|r| r.example(&r.content))
                        .collect(),
                    key: p.key,
                    label: p.label,
                }
            })
            .collect();
        PatternReport {
            from: scope.from,
            to: scope.to,
            channel: scope.channel,
            texts_read: n,
            capped: n as i64 == MAX_TEXTS,
            unmatched: n - in_any.len(),
            patterns: views,
            method,
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string().into()))
}
