//! Full-text search over interactions and reviews (SPEC TXT-3) with PostgreSQL's text search:
//! the `search_vector` the scoring worker fills, its GIN index, `ts_rank_cd` ranking and
//! `ts_headline` snippets.
//!
//! Query language: words (all must match), `"a phrase"`, `or`, `-word` to exclude (as
//! `websearch_to_tsquery` reads them), and `word*` for words starting with `word`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::backend::analytics::reports::{date, invalid};
use crate::backend::analytics::scoring::midnight;
use crate::backend::caller::Caller;
use crate::backend::cursor;
use crate::backend::error::ApiError;
use domain::access::Permission;
use domain::records::Channel;

/// `GET /api/v1/search` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    pub q: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub channel: Option<String>,
    pub sentiment: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Texts up to this long are shown whole in a hit.
const WHOLE_TEXT_CHARS: usize = 280;

/// Longest query accepted.
const MAX_QUERY_CHARS: usize = 200;

/// Marks around matches in `ts_headline`'s output (private-use characters, so no text can
/// contain them by accident; they never reach the client).
const MATCH_START: char = '\u{E000}';
const MATCH_END: char = '\u{E001}';

/// A piece of a snippet; `matched` pieces are what the query found. Sent as pieces rather than
/// HTML so no client has to trust markup made from customers' text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Piece {
    pub text: String,
    pub matched: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// `interaction` or `review`.
    pub kind: &'static str,
    pub id: Uuid,
    pub written_at: DateTime<Utc>,
    pub customer_id: Option<Uuid>,
    pub customer_name: Option<String>,
    pub customer_external_id: Option<String>,
    /// Interactions: their channel and event type.
    pub channel: Option<String>,
    pub event_type: Option<String>,
    /// Reviews: the product and rating.
    pub product_id: Option<Uuid>,
    pub product_name: Option<String>,
    pub sku: Option<String>,
    pub rating: Option<i16>,
    pub snippet: Vec<Piece>,
    pub rank: f32,
    /// Null until the scoring worker has read the text.
    pub sentiment: Option<HitSentiment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HitSentiment {
    pub label: String,
    pub confidence: f32,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    written_at: DateTime<Utc>,
    customer_id: Option<Uuid>,
    customer_name: Option<String>,
    customer_external_id: Option<String>,
    channel: Option<String>,
    event_type: Option<String>,
    product_id: Option<Uuid>,
    product_name: Option<String>,
    sku: Option<String>,
    rating: Option<i16>,
    headline: String,
    rank: f32,
    label: Option<String>,
    confidence: Option<f32>,
}

/// The parts of a query: what `websearch_to_tsquery` reads, and prefix words as a
/// `to_tsquery` string made only of letters and digits (nothing a user types can inject
/// query syntax).
#[derive(Debug, PartialEq)]
pub struct ParsedQuery {
    pub websearch: String,
    pub prefixes: String,
}

pub fn parse_query(q: &str) -> ParsedQuery {
    let mut websearch = Vec::new();
    let mut prefixes = Vec::new();
    let mut in_phrase = false;
    for word in q.split_whitespace() {
        let quotes = word.matches('"').count();
        if !in_phrase && quotes == 0 && word.len() > 1 && word.ends_with('*') && !word.starts_with('-') {
            let stem: String = word
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            if !stem.is_empty() {
                prefixes.push(format!("{stem}:*"));
                continue;
            }
        }
        if quotes % 2 == 1 {
            in_phrase = !in_phrase;
        }
        websearch.push(word);
    }
    ParsedQuery {
        websearch: websearch.join(" "),
        prefixes: prefixes.join(" & "),
    }
}

/// Splits `ts_headline` output into plain and matched pieces.
pub fn pieces(headline: &str) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut current = String::new();
    let mut matched = false;
    for c in headline.chars() {
        if c == MATCH_START || c == MATCH_END {
            if !current.is_empty() {
                out.push(Piece {
                    text: std::mem::take(&mut current),
                    matched,
                });
            }
            matched = c == MATCH_START;
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        out.push(Piece {
            text: current,
            matched,
        });
    }
    out
}

/// A `channel` parameter: an interaction channel, or one of `extra` (e.g. "review").
pub(crate) fn channel_param(text: &str, extra: &[&'static str]) -> Result<&'static str, ApiError> {
    if let Some(found) = extra.iter().find(|e| **e == text) {
        return Ok(found);
    }
    Channel::parse(text).map(Channel::as_str).ok_or_else(|| {
        let names: Vec<&str> = Channel::ALL
            .iter()
            .map(|c| c.as_str())
            .chain(extra.iter().copied())
            .collect();
        invalid(
            "channel",
            format!("\"{text}\" is not one of {}", names.join(", ")),
        )
    })
}

/// One page of hits, best first; the cursor continues after the last.
pub async fn search(mut caller: Caller, query: &SearchQuery) -> Result<(Vec<Hit>, Option<String>), ApiError> {
    caller.require(Permission::ReadData, "search").await?;
    let q = query.q.as_deref().map(str::trim).unwrap_or_default();
    if q.is_empty() {
        return Err(invalid("q", "type something to search for"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid("q", format!("at most {MAX_QUERY_CHARS} characters")));
    }
    let parsed = parse_query(q);
    let reviews = match query.kind.as_deref().unwrap_or("interactions") {
        "interactions" => false,
        "reviews" => true,
        other => {
            return Err(invalid(
                "type",
                format!("\"{other}\" is not one of interactions, reviews"),
            ))
        }
    };
    let channel = match query.channel.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(_) if reviews => {
            return Err(invalid(
                "channel",
                "reviews have no channel; leave it out or search interactions",
            ));
        }
        Some(text) => Some(channel_param(text, &[])?),
    };
    let sentiment = query.sentiment.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = sentiment {
        if !["positive", "neutral", "negative"].contains(&s) {
            return Err(invalid(
                "sentiment",
                format!("\"{s}\" is not one of positive, neutral, negative"),
            ));
        }
    }
    let from = date("from", query.from.as_deref())?.map(midnight);
    let to = date("to", query.to.as_deref())?.map(|d| midnight(d + chrono::Duration::days(1)));
    let limit = cursor::page_limit(query.limit)?;
    let after = cursor::start::<String>(query.cursor.as_deref())?
        .map(|(at, key)| {
            let (rank, id) = key.split_once('~')?;
            Some((rank.parse::<f32>().ok()?, at, id.parse::<Uuid>().ok()?))
        })
        .map(|parsed| parsed.ok_or_else(|| invalid("cursor", "not a cursor from this search")))
        .transpose()?;

    // Fixed pieces of SQL chosen by which parts the query has; user input is only bound.
    let tsquery = match (parsed.websearch.is_empty(), parsed.prefixes.is_empty()) {
        (false, true) => "websearch_to_tsquery('english', $2)",
        (true, false) => "to_tsquery('english', $3)",
        _ => "websearch_to_tsquery('english', $2) && to_tsquery('english', $3)",
    };
    let (source, columns, channel_filter) = if reviews {
        (
            "reviews t
             left join customers c on c.org_id = t.org_id and c.id = t.customer_id
             left join products p on p.org_id = t.org_id and p.id = t.product_id",
            "t.reviewed_at as written_at, null::text as channel, null::text as event_type,
             t.product_id, p.name as product_name, t.sku, t.rating",
            "",
        )
    } else {
        (
            "interactions t join customers c on c.org_id = t.org_id and c.id = t.customer_id",
            "t.occurred_at as written_at, t.channel, t.event_type, null::uuid as product_id,
             null::text as product_name, null::text as sku, null::smallint as rating",
            "and ($4::text is null or t.channel = $4)",
        )
    };
    let (subject, at) = if reviews {
        ("review", "t.reviewed_at")
    } else {
        ("interaction", "t.occurred_at")
    };
    let sql = format!(
        "with q as (select {tsquery} as query, $2::text as websearch, $3::text as prefixes, $4::text as channel)
         select * from (
             select t.id, t.customer_id, c.name as customer_name, c.external_id as customer_external_id, {columns},
                    -- A short text is shown whole; a long one as its best fragments.
                    ts_headline('english', t.content, q.query,
                                case when length(t.content) <= {WHOLE_TEXT_CHARS} then $13 else $12 end) as headline,
                    ts_rank_cd(t.search_vector, q.query) as rank,
                    s.label, s.confidence
             from {source}
             cross join q
             left join text_scores s on s.org_id = t.org_id and s.subject = '{subject}' and s.subject_id = t.id
             where t.org_id = $1 and t.search_vector @@ q.query {channel_filter}
               and ($5::text is null or s.label = $5)
               and ($6::timestamptz is null or {at} >= $6)
               and ($7::timestamptz is null or {at} < $7)
         ) hits
         where ($8::real is null or (rank, written_at, id) < ($8, $9, $10))
         order by rank desc, written_at desc, id desc
         limit $11"
    );
    let org = caller.tenant.org_id();
    let mut rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org)
        .bind(&parsed.websearch)
        .bind(&parsed.prefixes)
        .bind(channel)
        .bind(sentiment)
        .bind(from)
        .bind(to)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(after.map(|a| a.2))
        .bind(limit + 1)
        .bind(format!("StartSel={MATCH_START}, StopSel={MATCH_END}, MinWords=8, MaxWords=30, MaxFragments=2, FragmentDelimiter=\" … \""))
        .bind(format!("StartSel={MATCH_START}, StopSel={MATCH_END}, HighlightAll=true"))
        .fetch_all(caller.tenant.conn())
        .await?;
    caller.tenant.commit().await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| cursor::encode(r.written_at, format!("{}~{}", r.rank, r.id)))
    } else {
        None
    };
    let kind = if reviews { "review" } else { "interaction" };
    let hits = rows
        .into_iter()
        .map(|r| Hit {
            kind,
            id: r.id,
            written_at: r.written_at,
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            customer_external_id: r.customer_external_id,
            channel: r.channel,
            event_type: r.event_type,
            product_id: r.product_id,
            product_name: r.product_name,
            sku: r.sku,
            rating: r.rating,
            snippet: pieces(&r.headline),
            rank: r.rank,
            sentiment: r
                .label
                .zip(r.confidence)
                .map(|(label, confidence)| HitSentiment { label, confidence }),
        })
        .collect();
    Ok((hits, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefix_words_leave_the_websearch_part() {
        assert_eq!(
            parse_query("deliv* \"arrived late\" -refund"),
            ParsedQuery {
                websearch: "\"arrived late\" -refund".into(),
                prefixes: "deliv:*".into()
            }
        );
        assert_eq!(parse_query("\"late deliv*\"").prefixes, "");
    }

    #[test]
    fn headline_marks_become_pieces() {
        let text = format!("the {MATCH_START}parcel{MATCH_END} came");
        assert_eq!(
            pieces(&text),
            vec![
                Piece {
                    text: "the ".into(),
                    matched: false
                },
                Piece {
                    text: "parcel".into(),
                    matched: true
                },
                Piece {
                    text: " came".into(),
                    matched: false
                }
            ]
        );
    }

    proptest! {
        /// Prefix terms carry only letters, digits and `:*` joined by ` & `.
        #[test]
        fn prefix_terms_cannot_carry_query_syntax(q in "\\PC{0,80}") {
            let parsed = parse_query(&q);
            for term in parsed.prefixes.split(" & ").filter(|t| !t.is_empty()) {
                let stem = term.strip_suffix(":*").unwrap();
                prop_assert!(!stem.is_empty() && stem.chars().all(char::is_alphanumeric), "{term}");
            }
        }

        /// Joining the pieces gives the headline without its marks.
        #[test]
        fn pieces_keep_every_character(text in "[a-z \u{E000}\u{E001}]{0,60}") {
            let joined: String = pieces(&text).into_iter().map(|p| p.text).collect();
            prop_assert_eq!(joined, text.replace([MATCH_START, MATCH_END], ""));
        }
    }
}
