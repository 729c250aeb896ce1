//! Market basket analysis (SPEC ANA-6): frequent itemsets and association rules with support,
//! confidence and lift, and "bought together" for one product.
//!
//! Itemsets are mined depth-first over sorted basket-id lists (Eclat): the same itemsets as
//! apriori or FP-growth, with memory proportional to the item occurrences and no candidate
//! generation pass over the data per level.

use std::collections::HashMap;

use serde::Serialize;

use crate::{Analysis, Sample};

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BasketSettings {
    /// Share of baskets an itemset must appear in.
    pub min_support: f64,
    /// Rules below this confidence are left out.
    pub min_confidence: f64,
    /// Rules below this lift are left out (1.0 keeps only positive associations).
    pub min_lift: f64,
    /// Longest itemset mined (`None`: no limit).
    pub max_len: Option<usize>,
}

impl Default for BasketSettings {
    fn default() -> Self {
        BasketSettings {
            min_support: 0.005,
            min_confidence: 0.0,
            min_lift: 1.0,
            max_len: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Itemset {
    /// Items in name order.
    pub items: Vec<String>,
    /// Baskets containing every item.
    pub count: usize,
    pub support: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    pub antecedent: Vec<String>,
    pub consequent: Vec<String>,
    /// Share of baskets with both sides.
    pub support: f64,
    /// Share of baskets with the antecedent that also have the consequent.
    pub confidence: f64,
    /// Confidence over the consequent's own support: how much more likely together.
    pub lift: f64,
    /// Baskets with the antecedent: the sample the confidence stands on.
    pub antecedent_count: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Basket {
    pub sample: Sample,
    pub settings: BasketSettings,
    /// Every frequent itemset, largest support first.
    pub itemsets: Vec<Itemset>,
    /// Rules passing the thresholds, highest lift first.
    pub rules: Vec<Rule>,
}

/// Mines frequent itemsets and rules from baskets (repeated items in a basket count once).
pub fn mine(baskets: &[Vec<String>], settings: BasketSettings) -> Analysis<Basket> {
    let n = baskets.len();
    if n < 2 {
        return Analysis::insufficient("at least 2 orders", n, "import orders with their lines");
    }
    let min_count = ((settings.min_support * n as f64) - 1e-9).ceil().max(1.0) as usize;
    // Each distinct item (numbered as first seen) and the sorted basket numbers containing it,
    // then renumbered in name order so results come out sorted.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut occurrences: Vec<(&str, Vec<u32>)> = Vec::new();
    for (b, basket) in baskets.iter().enumerate() {
        for item in basket {
            let id = *seen.entry(item.as_str()).or_insert_with(|| {
                occurrences.push((item.as_str(), Vec::new()));
                occurrences.len() - 1
            });
            let list = &mut occurrences[id].1;
            if list.last() != Some(&(b as u32)) {
                list.push(b as u32);
            }
        }
    }
    occurrences.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let names: Vec<&str> = occurrences.iter().map(|(name, _)| *name).collect();
    let occurrences: Vec<Vec<u32>> = occurrences.into_iter().map(|(_, list)| list).collect();
    let frequent: Vec<(Vec<usize>, Vec<u32>)> = occurrences
        .into_iter()
        .enumerate()
        .filter(|(_, baskets)| baskets.len() >= min_count)
        .map(|(i, baskets)| (vec![i], baskets))
        .collect();
    let mut found: Vec<(Vec<usize>, usize)> = Vec::new();
    extend(
        &frequent,
        min_count,
        settings.max_len.unwrap_or(usize::MAX),
        &mut found,
    );

    let counts: HashMap<&[usize], usize> = found
        .iter()
        .map(|(items, count)| (items.as_slice(), *count))
        .collect();
    let support = |count: usize| count as f64 / n as f64;
    let mut rules = Vec::new();
    for (items, count) in found.iter().filter(|(items, _)| items.len() >= 2) {
        // Every split into a non-empty antecedent and consequent (bit masks over the itemset).
        for mask in 1..(1u32 << items.len()) - 1 {
            let (antecedent, consequent): (Vec<usize>, Vec<usize>) = {
                let mut a = Vec::new();
                let mut c = Vec::new();
                for (bit, item) in items.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        a.push(*item)
                    } else {
                        c.push(*item)
                    }
                }
                (a, c)
            };
            let antecedent_count = counts[antecedent.as_slice()];
            let confidence = *count as f64 / antecedent_count as f64;
            let lift = confidence / support(counts[consequent.as_slice()]);
            if confidence >= settings.min_confidence && lift >= settings.min_lift {
                let named = |ids: &[usize]| ids.iter().map(|&i| names[i].to_string()).collect();
                rules.push(Rule {
                    antecedent: named(&antecedent),
                    consequent: named(&consequent),
                    support: support(*count),
                    confidence,
                    lift,
                    antecedent_count,
                });
            }
        }
    }
    rules.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then(b.confidence.total_cmp(&a.confidence))
            .then_with(|| a.antecedent.cmp(&b.antecedent))
    });
    let mut itemsets: Vec<Itemset> = found
        .into_iter()
        .map(|(items, count)| Itemset {
            items: items.iter().map(|&i| names[i].to_string()).collect(),
            count,
            support: support(count),
        })
        .collect();
    itemsets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.items.cmp(&b.items)));
    Analysis::Ready(Basket {
        sample: Sample::new(n),
        settings,
        itemsets,
        rules,
    })
}

/// Depth-first: each frequent itemset is extended by the later items of its class.
fn extend(
    class: &[(Vec<usize>, Vec<u32>)],
    min_count: usize,
    max_len: usize,
    found: &mut Vec<(Vec<usize>, usize)>,
) {
    for (i, (items, baskets)) in class.iter().enumerate() {
        found.push((items.clone(), baskets.len()));
        if items.len() >= max_len {
            continue;
        }
        let next: Vec<(Vec<usize>, Vec<u32>)> = class[i + 1..]
            .iter()
            .filter_map(|(other, other_baskets)| {
                let shared = intersect(baskets, other_baskets);
                (shared.len() >= min_count).then(|| {
                    let mut union = items.clone();
                    union.push(*other.last().expect("itemsets are never empty"));
                    (union, shared)
                })
            })
            .collect();
        if !next.is_empty() {
            extend(&next, min_count, max_len, found);
        }
    }
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// What is most often bought with `item`: its rules with that item alone as antecedent,
/// strongest lift first.
pub fn bought_together<'a>(basket: &'a Basket, item: &str, limit: usize) -> Vec<&'a Rule> {
    basket
        .rules
        .iter()
        .filter(|r| r.antecedent.len() == 1 && r.antecedent[0] == item && r.consequent.len() == 1)
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn baskets_strategy() -> impl Strategy<Value = Vec<Vec<String>>> {
        prop::collection::vec(prop::collection::vec(0u8..8, 1..5), 2..60).prop_map(|bs| {
            bs.into_iter()
                .map(|b| b.into_iter().map(|i| format!("i{i}")).collect())
                .collect()
        })
    }

    proptest! {
        #[test]
        fn supports_are_exact_and_anti_monotone(baskets in baskets_strategy(), min in 0.01f64..0.3) {
            let result = mine(&baskets, BasketSettings { min_support: min, min_lift: 0.0, ..Default::default() }).ready().unwrap();
            let support_of: HashMap<Vec<String>, f64> = result.itemsets.iter().map(|s| (s.items.clone(), s.support)).collect();
            for set in &result.itemsets {
                let true_count = baskets.iter().filter(|b| set.items.iter().all(|i| b.contains(i))).count();
                prop_assert_eq!(set.count, true_count);
                prop_assert!(set.support >= min - 1e-12);
                // Every subset is frequent and at least as supported.
                for skip in 0..set.items.len() {
                    if set.items.len() > 1 {
                        let mut subset = set.items.clone();
                        subset.remove(skip);
                        let sub = support_of.get(&subset);
                        prop_assert!(sub.is_some_and(|s| *s >= set.support));
                    }
                }
            }
            // And nothing frequent is missed among pairs.
            for a in 0..8 { for b in (a + 1)..8 {
                let pair = vec![format!("i{a}"), format!("i{b}")];
                let count = baskets.iter().filter(|bk| pair.iter().all(|i| bk.contains(i))).count();
                let frequent = count as f64 / baskets.len() as f64 >= min && count > 0;
                prop_assert_eq!(support_of.contains_key(&pair), frequent);
            }}
            for rule in &result.rules {
                prop_assert!(rule.confidence <= 1.0 + 1e-12 && rule.lift > 0.0);
            }
        }
    }
}
