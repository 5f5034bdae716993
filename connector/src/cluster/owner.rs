//! Which node owns an account and region: rendezvous hashing over the
//! configured node list.
//!
//! CloudWatch's quotas are per account and region, so in a cluster every
//! account-region is read by exactly one node, whose pacer then governs
//! all of that account-region's reads. Every node computes the same owner
//! from the same list, whichever node plans the query, and in whatever
//! order the list was written. When a node is removed from the list only
//! the keys it owned move (to their next-highest node); the others stay.

use std::hash::Hasher;

use twox_hash::XxHash64;

/// The weight of `node` for `key`; the highest weight owns the key.
fn weight(key: &str, node: &str) -> u64 {
    let mut h = XxHash64::with_seed(0x6c6f_6766_6c69_6768);
    h.write(key.as_bytes());
    // A separator, so ("ab", "c") and ("a", "bc") differ.
    h.write_u8(0);
    h.write(node.as_bytes());
    h.finish()
}

/// The node of `nodes` owning `key`; `None` for an empty list. Ties
/// (never seen with 64-bit weights) go to the smaller name, so the answer
/// never depends on the list's order.
pub fn owner<'a>(key: &str, nodes: &'a [String]) -> Option<&'a str> {
    nodes
        .iter()
        .map(|n| (weight(key, n), n.as_str()))
        .max_by(|(wa, na), (wb, nb)| wa.cmp(wb).then_with(|| nb.cmp(na)))
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("https://10.0.0.{i}:50052"))
            .collect()
    }

    #[test]
    fn empty_list_has_no_owner() {
        assert_eq!(owner("k", &[]), None);
    }

    #[test]
    fn the_order_of_the_list_does_not_matter() {
        let list = nodes(5);
        let mut reversed = list.clone();
        reversed.reverse();
        for i in 0..200 {
            let key = format!("cloudwatch|role-{i}|us-east-1");
            assert_eq!(owner(&key, &list), owner(&key, &reversed), "{key}");
        }
    }

    /// Removing a node moves only its own keys; adding one moves keys
    /// only to it.
    #[test]
    fn membership_changes_move_only_the_keys_they_must() {
        let three = nodes(3);
        let two: Vec<String> = three[..2].to_vec();
        let four = nodes(4);
        for i in 0..500 {
            let key = format!("k{i}");
            let before = owner(&key, &three).unwrap();
            let after = owner(&key, &two).unwrap();
            if before != three[2] {
                assert_eq!(before, after, "{key} moved though its owner stayed");
            }
            let grown = owner(&key, &four).unwrap();
            assert!(grown == before || grown == four[3], "{key}");
        }
    }

    /// Keys spread over the nodes: with 3 nodes and 3,000 keys each node
    /// owns between 800 and 1,200 (a skewed hash would fail this).
    #[test]
    fn keys_spread_over_the_nodes() {
        let list = nodes(3);
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            let key = format!("cloudwatch|arn:aws:iam::{:012}:role/r|eu-west-1", i);
            let o = owner(&key, &list).unwrap();
            counts[list.iter().position(|n| n == o).unwrap()] += 1;
        }
        for c in counts {
            assert!((800..=1200).contains(&c), "{counts:?}");
        }
    }
}
