//! Is a region name plausible? A misspelt region (`us-eest-1`) otherwise
//! shows up only as a failed connection to a host that does not exist,
//! after every retry. AWS adds regions every year, so a name that is
//! shaped like a region but not in this list is only warned about; a name
//! that is not shaped like one is refused. Both get the nearest known
//! region as a suggestion.

use crate::names::edit_distance;

/// Regions of the commercial, China, GovCloud and ISO partitions known to
/// this build.
const KNOWN: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-west-1",
    "us-west-2",
];

/// The directions region names are made of.
const DIRECTIONS: &[&str] = &[
    "north",
    "south",
    "east",
    "west",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
];

/// What a region name looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionCheck {
    Known,
    /// Shaped like a region (`xx-direction-N`) but not known to this build:
    /// maybe a new region, maybe a typo.
    Unknown {
        nearest: String,
    },
    /// Not shaped like a region at all.
    Malformed {
        nearest: String,
    },
}

pub fn check_region(name: &str) -> RegionCheck {
    if KNOWN.contains(&name) {
        return RegionCheck::Known;
    }
    let nearest = KNOWN
        .iter()
        .min_by_key(|known| edit_distance(&name.to_lowercase(), known))
        .map(|k| k.to_string())
        .unwrap_or_default();
    if well_formed(name) {
        RegionCheck::Unknown { nearest }
    } else {
        RegionCheck::Malformed { nearest }
    }
}

/// `geo[-partition]-direction-number`, in lower case: `eu-west-1`,
/// `us-gov-east-1`, `us-isob-east-1`, `eusc-de-east-1` (the European
/// Sovereign Cloud names a country there). Any lower-case middle part is
/// taken as a partition: refusing a real region is worse than warning
/// about a typo.
fn well_formed(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let (geo, rest) = match parts.as_slice() {
        [geo, rest @ ..] => (geo, rest),
        [] => return false,
    };
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let rest = match rest {
        [partition, rest @ ..] if rest.len() == 2 && (2..=5).contains(&partition.len()) => {
            if !lower(partition) {
                return false;
            }
            rest
        }
        rest => rest,
    };
    match rest {
        [direction, number] => {
            (2..=4).contains(&geo.len())
                && lower(geo)
                && DIRECTIONS.contains(direction)
                && !number.is_empty()
                && number.len() <= 2
                && number.bytes().all(|b| b.is_ascii_digit())
                && !number.starts_with('0')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_checked() {
        let known = RegionCheck::Known;
        let unknown = |n: &str| RegionCheck::Unknown { nearest: n.into() };
        let malformed = |n: &str| RegionCheck::Malformed { nearest: n.into() };
        let cases = [
            ("us-east-1", known.clone()),
            ("eu-west-1", known.clone()),
            ("us-gov-west-1", known.clone()),
            ("us-isob-east-1", known.clone()),
            ("eusc-de-east-1", known),
            // Partitions and sovereign clouds newer than this build.
            ("eu-isoe-west-1", unknown("us-iso-west-1")),
            ("eusc-fr-west-1", unknown("eusc-de-east-1")),
            // Shaped like a region: perhaps one newer than this build.
            ("eu-west-4", unknown("eu-west-1")),
            ("ap-southeast-9", unknown("ap-southeast-1")),
            // Typos and other settings put in the region's place.
            ("us-eest-1", malformed("us-east-1")),
            ("useast1", malformed("us-east-1")),
            ("US-EAST-1", malformed("us-east-1")),
            ("eu-west", malformed("eu-west-1")),
            ("us-east-01", malformed("us-east-1")),
        ];
        for (name, want) in cases {
            assert_eq!(check_region(name), want, "{name:?}");
        }
    }
}
