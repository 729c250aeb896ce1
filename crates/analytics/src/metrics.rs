//! Model evaluation shared by the models: ROC AUC and a reproducible train/test split.

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative (ties count half), by the rank-sum formula. `None` without both classes.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// SplitMix64: a tiny, well-known mixer, so the split can be reproduced in any language
/// (the benchmark re-creates it in Python for scikit-learn).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether row `index` is held out for testing: `splitmix64(seed · 2³² + index) / 2⁶⁴ <
/// test_fraction`. Each row's fate depends only on the seed and its own position.
pub fn is_test_row(index: usize, seed: u64, test_fraction: f64) -> bool {
    let draw = splitmix64((seed << 32) ^ index as u64) as f64 / 2f64.powi(64);
    draw < test_fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn auc_of_a_perfect_a_reversed_and_a_tied_ranking() {
        let labels = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &labels), Some(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &labels), Some(0.0));
        assert_eq!(auc(&[0.5; 4], &labels), Some(0.5));
        assert_eq!(auc(&[0.5, 0.6], &[true, true]), None);
    }

    #[test]
    fn splitmix_matches_its_reference_values() {
        // First outputs of the reference generator seeded with 0 (Vigna's splitmix64.c).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    }

    proptest! {
        #[test]
        fn auc_equals_the_share_of_correctly_ordered_pairs(
            rows in prop::collection::vec((0u8..10, any::<bool>()), 2..40),
        ) {
            let scores: Vec<f64> = rows.iter().map(|r| f64::from(r.0)).collect();
            let labels: Vec<bool> = rows.iter().map(|r| r.1).collect();
            let mut pairs = 0.0;
            let mut wins = 0.0;
            for (i, &li) in labels.iter().enumerate() {
                for (j, &lj) in labels.iter().enumerate() {
                    if li && !lj {
                        pairs += 1.0;
                        wins += if scores[i] > scores[j] { 1.0 } else if scores[i] == scores[j] { 0.5 } else { 0.0 };
                    }
                }
            }
            match auc(&scores, &labels) {
                Some(value) => prop_assert!((value - wins / pairs).abs() < 1e-12),
                None => prop_assert_eq!(pairs, 0.0),
            }
        }

        #[test]
        fn the_split_holds_out_about_the_asked_share(seed in 0u64..1000) {
            let held = (0..10_000).filter(|&i| is_test_row(i, seed, 0.2)).count();
            prop_assert!((1_700..2_300).contains(&held), "{held}");
        }
    }
}
