//! Memorable run names such as `optimistic-roadrunner`.

const ADJECTIVES: &[&str] = &[
    "agile",
    "amber",
    "ancient",
    "bold",
    "brave",
    "bright",
    "calm",
    "clever",
    "cosmic",
    "crimson",
    "curious",
    "daring",
    "eager",
    "electric",
    "emerald",
    "fearless",
    "fiery",
    "gentle",
    "gilded",
    "glowing",
    "golden",
    "graceful",
    "happy",
    "hidden",
    "honest",
    "humble",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "lunar",
    "mellow",
    "mighty",
    "misty",
    "nimble",
    "noble",
    "optimistic",
    "patient",
    "polar",
    "proud",
    "quick",
    "quiet",
    "radiant",
    "rapid",
    "rustic",
    "scarlet",
    "silent",
    "silver",
    "sly",
    "solar",
    "spirited",
    "steady",
    "stellar",
    "swift",
    "tidal",
    "vivid",
    "wandering",
    "witty",
    "zealous",
];

const ANIMALS: &[&str] = &[
    "albatross",
    "alpaca",
    "axolotl",
    "badger",
    "beaver",
    "bison",
    "bobcat",
    "caracal",
    "cheetah",
    "condor",
    "coyote",
    "crane",
    "dingo",
    "dolphin",
    "eagle",
    "falcon",
    "ferret",
    "gazelle",
    "gecko",
    "heron",
    "ibis",
    "iguana",
    "jackal",
    "jaguar",
    "kestrel",
    "kingfisher",
    "koala",
    "lemur",
    "lynx",
    "manatee",
    "marmot",
    "mongoose",
    "narwhal",
    "ocelot",
    "orca",
    "otter",
    "pangolin",
    "pelican",
    "penguin",
    "puffin",
    "quokka",
    "raccoon",
    "raven",
    "roadrunner",
    "salamander",
    "seal",
    "sparrow",
    "tapir",
    "tiger",
    "toucan",
    "turtle",
    "vulture",
    "walrus",
    "weasel",
    "wombat",
    "yak",
    "zebra",
];

/// A two-word name chosen by `seed` (pass random bits; equal seeds give equal names).
pub fn run_name(seed: u64) -> String {
    let adjective = ADJECTIVES[(seed % ADJECTIVES.len() as u64) as usize];
    let animal = ANIMALS[((seed >> 32) % ANIMALS.len() as u64) as usize];
    format!("{adjective}-{animal}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_two_lowercase_words() {
        for seed in [0, 1, u64::MAX, 0xdead_beef_cafe_f00d] {
            let name = run_name(seed);
            let parts: Vec<_> = name.split('-').collect();
            assert_eq!(parts.len(), 2, "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        }
        assert_ne!(run_name(0), run_name(1 << 32 | 1));
    }
}
