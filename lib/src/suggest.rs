//! "Did you mean": the known names closest to a misspelt one (config keys, AWS profiles, target
//! groups), by edit distance (`strsim`).

/// At most this many suggestions.
const MAX: usize = 3;

/// The names in `known` close enough to `given` to be what was meant, closest first, at most three:
/// one edit away, or within a third of the longer name's length (long names typed with several
/// slips). Short names need to be close: `dev` suggests neither `qa` nor `prd` (a profile of another
/// account is a poor guess in a safety message). `given` itself is never suggested.
pub fn closest<'a, S: AsRef<str>>(given: &str, known: &'a [S]) -> Vec<&'a str> {
    let mut near: Vec<(usize, &str)> = known
        .iter()
        .map(AsRef::as_ref)
        .filter(|k| *k != given)
        .map(|k| (strsim::levenshtein(given, k), k))
        .filter(|(d, k)| *d <= 1 || *d * 3 <= given.chars().count().max(k.chars().count()))
        .collect();
    near.sort();
    near.dedup();
    near.into_iter().take(MAX).map(|(_, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn a_short_name_suggests_only_what_is_one_slip_away() {
        assert!(closest("dev", &["qa", "prd", "staging"]).is_empty());
        assert_eq!(closest("dev", &["qa", "de", "prd"]), vec!["de"]);
        assert_eq!(closest("prd", &["prod", "qa"]), vec!["prod"]);
    }

    #[test]
    fn the_closest_names_first_and_nothing_far() {
        let known = [
            "prod-shop-blue-tg",
            "prod-shop-green-tg",
            "other-app-tg",
            "x",
        ];
        assert_eq!(
            closest("prod-shop-bleu-tg", &known),
            vec!["prod-shop-blue-tg", "prod-shop-green-tg"]
        );
        assert_eq!(
            closest("max-eror-rate", &["max-error-rate", "min-requests"]),
            vec!["max-error-rate"]
        );
        assert!(closest("completely-different", &known).is_empty());
        assert!(
            closest("x", &known).is_empty(),
            "the name itself is no suggestion"
        );
    }

    #[test]
    fn at_most_three() {
        let known = ["tg-1", "tg-2", "tg-3", "tg-4"];
        assert_eq!(closest("tg-0", &known).len(), 3);
    }
}
