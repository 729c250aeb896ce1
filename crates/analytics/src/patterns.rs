//! Behaviour patterns (SPEC ANA-1): what stands out in one customer's last 30 days of
//! interactions — a channel they keep coming back to, a steady tone or a turning sentiment,
//! a time of day or weekday they favour, and how engaged they are. Only patterns with a
//! confidence of at least [`MIN_CONFIDENCE`] are reported, strongest first; each says in
//! words what it rests on. Times are read in UTC.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::Serialize;

use crate::Analysis;

/// The look-back window.
pub const WINDOW_DAYS: i64 = 30;
/// Fewer interactions than this in the window and there is nothing to read.
pub const MIN_INTERACTIONS: usize = 5;
/// A preferred channel needs at least this many uses in the window.
pub const MIN_CHANNEL_USES: usize = 10;
/// Scored texts needed before the tone or trend of a customer's sentiment is read.
pub const MIN_SCORED: usize = 5;
/// Patterns below this confidence are left out.
pub const MIN_CONFIDENCE: f64 = 0.7;

/// One interaction as the detector sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Touch {
    pub at: DateTime<Utc>,
    pub channel: String,
    /// P(positive) − P(negative) of its text, when it had one and it was scored.
    pub polarity: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pattern {
    /// `preferred_channel`, `sentiment_tone`, `sentiment_trend`, `time_of_day`, `weekday` or
    /// `engagement`.
    pub kind: &'static str,
    /// In [MIN_CONFIDENCE, 1].
    pub confidence: f64,
    /// How many interactions show it (> 0).
    pub frequency: usize,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Patterns {
    pub window_days: i64,
    pub interactions: usize,
    /// In [0, 1]: how often, on how many days and how recently the customer interacted.
    pub engagement_score: f64,
    /// Strongest first; may be empty when nothing stands out.
    pub patterns: Vec<Pattern>,
}

/// Detects the patterns in `touches` (any order; those outside the 30 days before `now` are
/// ignored).
pub fn detect(touches: &[Touch], now: DateTime<Utc>) -> Analysis<Patterns> {
    let from = now - Duration::days(WINDOW_DAYS);
    let mut recent: Vec<&Touch> = touches.iter().filter(|t| t.at > from && t.at <= now).collect();
    recent.sort_by_key(|t| t.at);
    if recent.len() < MIN_INTERACTIONS {
        return Analysis::insufficient(
            format!("{MIN_INTERACTIONS} interactions in the last {WINDOW_DAYS} days"),
            recent.len(),
            "patterns appear once the customer has interacted a few times this month",
        );
    }
    let engagement_score = engagement(&recent, now);
    let mut patterns: Vec<Pattern> = [
        preferred_channel(&recent, from),
        sentiment_tone(&recent),
        sentiment_trend(&recent),
        time_of_day(&recent),
        weekday(&recent),
        Some(Pattern {
            kind: "engagement",
            confidence: engagement_score,
            frequency: recent.len(),
            description: format!(
                "highly engaged: {} interactions on {} days of the last {WINDOW_DAYS}",
                recent.len(),
                active_days(&recent)
            ),
        }),
    ]
    .into_iter()
    .flatten()
    .filter(|p| p.confidence >= MIN_CONFIDENCE && p.frequency > 0)
    .collect();
    patterns.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.kind.cmp(b.kind)));
    Analysis::Ready(Patterns {
        window_days: WINDOW_DAYS,
        interactions: recent.len(),
        engagement_score,
        patterns,
    })
}

fn active_days(recent: &[&Touch]) -> usize {
    let mut days: Vec<_> = recent.iter().map(|t| t.at.date_naive()).collect();
    days.dedup();
    days.len()
}

/// Equal parts: volume (20 interactions in 30 days counts as full), spread (active on 10 of
/// the 30 days counts as full) and recency (today full, 30 days ago nothing).
fn engagement(recent: &[&Touch], now: DateTime<Utc>) -> f64 {
    let volume = (recent.len() as f64 / 20.0).min(1.0);
    let spread = (active_days(recent) as f64 / 10.0).min(1.0);
    let last = recent.last().map_or(now - Duration::days(WINDOW_DAYS), |t| t.at);
    let recency = 1.0 - ((now - last).num_seconds() as f64 / (WINDOW_DAYS * 86_400) as f64).clamp(0.0, 1.0);
    (volume + spread + recency) / 3.0
}

/// The most used channel, with 10+ uses, used in most weeks of the window (regularity: share
/// of the window's weeks with a use). Confidence: its share of all interactions.
fn preferred_channel(recent: &[&Touch], from: DateTime<Utc>) -> Option<Pattern> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for t in recent {
        match counts.iter_mut().find(|(c, _)| *c == t.channel) {
            Some((_, n)) => *n += 1,
            None => counts.push((&t.channel, 1)),
        }
    }
    let (channel, uses) = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))?;
    if uses < MIN_CHANNEL_USES {
        return None;
    }
    // Four weeks; the window's last two days count with the fourth.
    let weeks = WINDOW_DAYS as usize / 7;
    let mut used = vec![false; weeks];
    for t in recent.iter().filter(|t| t.channel == channel) {
        let week = ((t.at - from).num_days().max(0) as usize / 7).min(weeks - 1);
        used[week] = true;
    }
    let regularity = used.iter().filter(|u| **u).count() as f64 / weeks as f64;
    if regularity <= 0.7 {
        return None;
    }
    Some(Pattern {
        kind: "preferred_channel",
        confidence: uses as f64 / recent.len() as f64,
        frequency: uses,
        description: format!(
            "prefers {channel}: {uses} of {} interactions, in {:.0} % of the weeks",
            recent.len(),
            regularity * 100.0
        ),
    })
}

fn scored(recent: &[&Touch]) -> Vec<(DateTime<Utc>, f64)> {
    recent
        .iter()
        .filter_map(|t| t.polarity.map(|p| (t.at, p)))
        .collect()
}

/// A steady tone: the share of scored texts on the side of their mean (consistency).
fn sentiment_tone(recent: &[&Touch]) -> Option<Pattern> {
    let scores = scored(recent);
    if scores.len() < MIN_SCORED {
        return None;
    }
    let mean = scores.iter().map(|s| s.1).sum::<f64>() / scores.len() as f64;
    if mean == 0.0 {
        return None;
    }
    let agreeing = scores
        .iter()
        .filter(|s| s.1.signum() == mean.signum() && s.1 != 0.0)
        .count();
    let tone = if mean > 0.0 { "positive" } else { "negative" };
    Some(Pattern {
        kind: "sentiment_tone",
        confidence: agreeing as f64 / scores.len() as f64,
        frequency: agreeing,
        description: format!("consistently {tone}: {agreeing} of {} texts", scores.len()),
    })
}

/// A turning sentiment: Spearman's rank correlation of polarity with time (its size is the
/// consistency of the direction).
fn sentiment_trend(recent: &[&Touch]) -> Option<Pattern> {
    let scores = scored(recent);
    if scores.len() < MIN_SCORED {
        return None;
    }
    let times: Vec<f64> = scores.iter().map(|s| s.0.timestamp() as f64).collect();
    let values: Vec<f64> = scores.iter().map(|s| s.1).collect();
    let rho = spearman(&times, &values)?;
    let direction = if rho > 0.0 { "improving" } else { "declining" };
    Some(Pattern {
        kind: "sentiment_trend",
        confidence: rho.abs(),
        frequency: scores.len(),
        description: format!(
            "sentiment {direction} over {} texts (rank correlation {rho:.2})",
            scores.len()
        ),
    })
}

/// The part of the day most interactions fall in: night 0–6, morning 6–12, afternoon 12–18,
/// evening 18–24 (UTC). Confidence: its share.
fn time_of_day(recent: &[&Touch]) -> Option<Pattern> {
    const PARTS: [&str; 4] = ["at night", "in the morning", "in the afternoon", "in the evening"];
    let mut counts = [0usize; 4];
    for t in recent {
        counts[t.at.hour() as usize / 6] += 1;
    }
    let (part, &n) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    Some(Pattern {
        kind: "time_of_day",
        confidence: n as f64 / recent.len() as f64,
        frequency: n,
        description: format!(
            "active {} (UTC): {n} of {} interactions",
            PARTS[part],
            recent.len()
        ),
    })
}

/// One weekday taking most interactions. Confidence: its share.
fn weekday(recent: &[&Touch]) -> Option<Pattern> {
    let mut counts = [0usize; 7];
    for t in recent {
        counts[t.at.weekday().num_days_from_monday() as usize] += 1;
    }
    let (day, &n) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    let name = [
        "Mondays",
        "Tuesdays",
        "Wednesdays",
        "Thursdays",
        "Fridays",
        "Saturdays",
        "Sundays",
    ][day];
    Some(Pattern {
        kind: "weekday",
        confidence: n as f64 / recent.len() as f64,
        frequency: n,
        description: format!("active on {name}: {n} of {} interactions", recent.len()),
    })
}

/// Spearman's ρ (average ranks for ties); `None` when either side is constant.
fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)).sum();
    let (vx, vy): (f64, f64) = (
        rx.iter().map(|a| (a - mx).powi(2)).sum(),
        ry.iter().map(|b| (b - my).powi(2)).sum(),
    );
    if vx == 0.0 || vy == 0.0 {
        return None;
    }
    Some((cov / (vx * vy).sqrt()).clamp(-1.0, 1.0))
}

fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn touch(days_ago: i64, hour: u32, channel: &str, polarity: Option<f64>) -> Touch {
        let day = (now() - Duration::days(days_ago)).date_naive();
        Touch {
            at: day.and_hms_opt(hour, 15, 0).unwrap().and_utc(),
            channel: channel.into(),
            polarity,
        }
    }

    #[test]
    fn four_interactions_are_not_enough() {
        let touches: Vec<Touch> = (0..4).map(|d| touch(d, 9, "chat", None)).collect();
        assert!(matches!(detect(&touches, now()), Analysis::InsufficientData(i) if i.have == 4));
    }

    #[test]
    fn a_regular_evening_chatter_with_souring_texts_is_described() {
        // 12 evening chats every two or three days, each text gloomier than the one before.
        let touches: Vec<Touch> = (0..12)
            .map(|k| touch(28 - k * 5 / 2, 20, "chat", Some(0.9 - k as f64 * 0.15)))
            .collect();
        let Analysis::Ready(found) = detect(&touches, now()) else {
            panic!("enough data")
        };
        let kinds: Vec<&str> = found.patterns.iter().map(|p| p.kind).collect();
        for kind in ["preferred_channel", "sentiment_trend", "time_of_day"] {
            assert!(kinds.contains(&kind), "{kind} missing from {:?}", found.patterns);
        }
        let trend = found
            .patterns
            .iter()
            .find(|p| p.kind == "sentiment_trend")
            .unwrap();
        assert!(trend.description.contains("declining") && trend.confidence > 0.99);
        assert!(
            !kinds.contains(&"sentiment_tone"),
            "half positive, half negative is no steady tone"
        );
    }

    #[test]
    fn interactions_before_the_window_do_not_count() {
        let mut touches: Vec<Touch> = (0..20).map(|k| touch(40 + k, 9, "web", None)).collect();
        touches.extend((0..5).map(|k| touch(k, 9, "email", None)));
        let Analysis::Ready(found) = detect(&touches, now()) else {
            panic!("five recent")
        };
        assert_eq!(found.interactions, 5);
        assert!(
            found.patterns.iter().all(|p| p.kind != "preferred_channel"),
            "5 uses are fewer than 10"
        );
    }

    fn arbitrary_touches() -> impl Strategy<Value = Vec<Touch>> {
        prop::collection::vec(
            (
                0i64..45,
                0u32..24,
                prop::sample::select(vec!["web", "chat", "email"]),
                prop::option::of(-1.0f64..1.0),
            ),
            0..60,
        )
        .prop_map(|rows| rows.into_iter().map(|(d, h, c, p)| touch(d, h, c, p)).collect())
    }

    proptest! {
        /// Every reported pattern is confident enough, rests on at least one interaction, and
        /// they come strongest first; the engagement score stays in [0, 1].
        #[test]
        fn reported_patterns_meet_the_threshold_in_order(touches in arbitrary_touches()) {
            if let Analysis::Ready(found) = detect(&touches, now()) {
                prop_assert!(found.interactions >= MIN_INTERACTIONS);
                prop_assert!((0.0..=1.0).contains(&found.engagement_score));
                for p in &found.patterns {
                    prop_assert!((MIN_CONFIDENCE..=1.0).contains(&p.confidence), "{p:?}");
                    prop_assert!(p.frequency > 0 && p.frequency <= found.interactions);
                }
                prop_assert!(found.patterns.windows(2).all(|w| w[0].confidence >= w[1].confidence));
            }
        }

        #[test]
        fn spearman_is_one_for_any_increasing_pairing(mut x in prop::collection::vec(-100.0f64..100.0, 3..30)) {
            x.sort_by(f64::total_cmp);
            x.dedup();
            prop_assume!(x.len() >= 3);
            let y: Vec<f64> = x.iter().map(|v| v.powi(3) + 2.0).collect();
            prop_assert!((spearman(&x, &y).unwrap() - 1.0).abs() < 1e-12);
        }
    }
}
