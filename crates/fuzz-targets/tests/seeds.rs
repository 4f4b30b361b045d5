//! Every fuzz target runs its checked-in seeds and a few hundred
//! deterministic mutations of them: a fast stand-in for `cargo xtask fuzz`
//! on stable, so a change that makes a target panic on its own seeds, or
//! close to them, fails the ordinary test suite.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use fuzz_targets::{TARGETS, Target};

/// Mutated inputs per target.
const MUTATIONS: usize = 300;

/// Text the mutator splices in: JSON's and URLs' punctuation, numbers at
/// the edges of their types, escapes, and the words the parsers look for.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e400",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"0.5",
    b"\\u0000",
    b"\\ud800",
    b"{}",
    b"[]",
    b"%",
    b"%ff",
    b"%25",
    b"=",
    b"&",
    b"+",
    b".",
    b"\n",
    b"Bearer ",
    b"\xff",
    b"\xc3",
    b"\"tool\"",
    b"\"arguments\"",
    b"\"method\"",
    b"\"tools/call\"",
    b"\"jsonrpc\":\"2.0\"",
    b"\"id\"",
    b"\"kid\"",
    b"\"alg\"",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The names of the entries in `dir` with `suffix`, the suffix cut off.
fn names(dir: &Path, suffix: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| name.to_str()?.strip_suffix(suffix).map(str::to_owned))
        .collect()
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("seeds").join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = names(&dir, "")
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).expect("a seed file");
            (name, bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{target} has no seeds");
    seeds
}

/// A xorshift generator: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `bound` (0 when it is 0).
    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        usize::try_from(self.next() % bound as u64).unwrap_or(0)
    }
}

/// `input` changed in one to four places, as libFuzzer's mutators would:
/// bits flipped, bytes dropped, repeated or replaced, tokens and pieces
/// of other seeds spliced in.
fn mutate(rng: &mut Rng, input: &[u8], seeds: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(7) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            1 => {
                let end = (at + 1 + rng.below(8)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            2 => {
                let end = (at + 1 + rng.below(16)).min(bytes.len());
                let piece = bytes[at.min(end)..end].to_vec();
                bytes.splice(at..at, piece);
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.iter().copied());
            }
            4 if at < bytes.len() => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let end = (at + token.len()).min(bytes.len());
                bytes.splice(at..end, token.iter().copied());
            }
            5 => {
                let (_, other) = &seeds[rng.below(seeds.len())];
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(32)).min(other.len());
                bytes.splice(at..at, other[start..end].iter().copied());
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// Runs `target` on `input`, failing with the input when it panics.
fn run(name: &str, target: Target, input: &[u8], origin: &str) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        panic!(
            "{name} panicked on {origin}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

fn survives_its_seeds_and_their_mutations(name: &str) {
    let (_, target) = TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let seeds = seeds(name);
    for (seed, bytes) in &seeds {
        run(name, *target, bytes, &format!("seed {seed}"));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..MUTATIONS {
        let (seed, bytes) = &seeds[round % seeds.len()];
        let mutated = mutate(&mut rng, bytes, &seeds);
        run(
            name,
            *target,
            &mutated,
            &format!("mutation {round} of seed {seed}"),
        );
    }
}

#[test]
fn bearer_jwt_survives_its_seeds_and_their_mutations() {
    survives_its_seeds_and_their_mutations("bearer_jwt");
}

#[test]
fn mcp_direct_survives_its_seeds_and_their_mutations() {
    survives_its_seeds_and_their_mutations("mcp_direct");
}

/// The comparison means something only for bodies the direct path reads:
/// its seeds include calls it serves, and bodies it must leave to rmcp.
#[test]
fn mcp_direct_reads_the_calls_among_its_seeds_and_leaves_the_rest() {
    let read: BTreeSet<String> = seeds("mcp_direct")
        .into_iter()
        .filter(|(_, bytes)| server::fuzzing::mcp_direct_call(bytes).is_some())
        .map(|(name, _)| name)
        .collect();
    let expected: BTreeSet<String> = [
        "call.json",
        "escapes-and-nulls.json",
        "progress-and-trace.json",
        "retry.json",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(read, expected);
}

#[test]
fn mcp_guard_survives_its_seeds_and_their_mutations() {
    survives_its_seeds_and_their_mutations("mcp_guard");
}

#[test]
fn plugin_wire_survives_its_seeds_and_their_mutations() {
    survives_its_seeds_and_their_mutations("plugin_wire");
}

#[test]
fn policy_context_survives_its_seeds_and_their_mutations() {
    survives_its_seeds_and_their_mutations("policy_context");
}

#[test]
fn session_settings_survives_its_seeds_and_their_mutations() {
    survives_its_seeds_and_their_mutations("session_settings");
}

/// `cargo xtask fuzz` runs what `fuzz/fuzz_targets/` holds; each of those
/// needs a binary in `fuzz/Cargo.toml`, a body here, seeds, and a test
/// above.
#[test]
fn every_fuzz_target_has_a_body_and_seeds() {
    let bodies: BTreeSet<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    let dir = fuzz_dir();
    assert_eq!(names(&dir.join("fuzz_targets"), ".rs"), bodies);
    assert_eq!(names(&dir.join("seeds"), ""), bodies);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let tests = include_str!("seeds.rs");
    for name in &bodies {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
        assert!(
            tests.contains(&format!(
                "fn {name}_survives_its_seeds_and_their_mutations()"
            )),
            "no test runs the seeds of {name}"
        );
    }
}
