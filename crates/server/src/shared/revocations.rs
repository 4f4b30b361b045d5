//! The revocations this replica knows of: all there are without Redis.
//!
//! The same rule as Redis's admission script: a token is revoked when its
//! `jti` is, or when it was issued before a cutoff for its subject or for
//! everyone (a token without `iat` is revoked by any cutoff that applies).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis_state::{Revocation, TokenFacts};

/// At most this many revocations are kept; past it, new ones are refused
/// (forgetting one would let a revoked token back in).
const MAX_REVOCATIONS: usize = 100_000;

#[derive(Default)]
pub(super) struct Revocations {
    state: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    /// Revoked `jti`s, until when they are kept.
    tokens: HashMap<String, Instant>,
    /// Each subject's cutoff, and until when it is kept.
    subjects: HashMap<String, (u64, Instant)>,
    /// The cutoff for every token.
    all: Option<(u64, Instant)>,
}

impl Revocations {
    /// Whether the token described by `facts` is revoked.
    pub(super) fn revokes(&self, facts: &TokenFacts<'_>) -> bool {
        let table = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if table.tokens.is_empty() && table.subjects.is_empty() && table.all.is_none() {
            return false;
        }
        let now = Instant::now();
        let cut_off = |entry: Option<&(u64, Instant)>| {
            entry.is_some_and(|(cutoff, until)| {
                *until > now && facts.issued_at.is_none_or(|issued| issued < *cutoff)
            })
        };
        facts
            .id
            .and_then(|id| table.tokens.get(id))
            .is_some_and(|until| *until > now)
            || cut_off(table.subjects.get(facts.subject))
            || cut_off(table.all.as_ref())
    }

    /// Records `revocation` for `keep`. A cutoff is only ever raised.
    pub(super) fn add(&self, revocation: &Revocation, keep: Duration) -> Result<(), String> {
        let mut table = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let until = now + keep;
        if table.tokens.len() + table.subjects.len() >= MAX_REVOCATIONS {
            table.tokens.retain(|_, kept| *kept > now);
            table.subjects.retain(|_, (_, kept)| *kept > now);
            if table.tokens.len() + table.subjects.len() >= MAX_REVOCATIONS {
                return Err(format!(
                    "{MAX_REVOCATIONS} revocations are in force already; revoke everything issued before a time instead"
                ));
            }
        }
        match revocation {
            Revocation::Token(id) => {
                table.tokens.insert(id.clone(), until);
            }
            Revocation::Subject {
                subject,
                issued_before,
            } => {
                let entry = table
                    .subjects
                    .entry(subject.clone())
                    .or_insert((*issued_before, until));
                *entry = (entry.0.max(*issued_before), until);
            }
            Revocation::IssuedBefore(cutoff) => {
                let cutoff = table.all.map_or(*cutoff, |(old, _)| old.max(*cutoff));
                table.all = Some((cutoff, until));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: Duration = Duration::from_secs(60);

    fn facts(
        id: Option<&'static str>,
        subject: &'static str,
        issued_at: Option<u64>,
    ) -> TokenFacts<'static> {
        TokenFacts {
            id,
            subject,
            issued_at,
        }
    }

    #[test]
    fn the_rule_is_the_admission_scripts() {
        let revocations = Revocations::default();
        let token = facts(Some("t1"), "alice", Some(1_000));
        assert!(!revocations.revokes(&token));
        revocations
            .add(&Revocation::Token("t1".to_owned()), KEEP)
            .expect("added");
        assert!(revocations.revokes(&token));
        let other = facts(Some("t2"), "alice", Some(1_000));
        assert!(!revocations.revokes(&other));
        revocations
            .add(
                &Revocation::Subject {
                    subject: "alice".to_owned(),
                    issued_before: 1_001,
                },
                KEEP,
            )
            .expect("added");
        assert!(revocations.revokes(&other));
        assert!(!revocations.revokes(&facts(Some("t2"), "alice", Some(1_001))));
        assert!(revocations.revokes(&facts(Some("t2"), "alice", None)));
        assert!(!revocations.revokes(&facts(Some("t2"), "bob", Some(1_000))));
        revocations
            .add(&Revocation::IssuedBefore(2_000), KEEP)
            .expect("added");
        revocations
            .add(&Revocation::IssuedBefore(1_500), KEEP)
            .expect("added");
        assert!(revocations.revokes(&facts(None, "bob", Some(1_999))));
        assert!(!revocations.revokes(&facts(None, "bob", Some(2_000))));
    }

    #[test]
    fn a_revocation_lapses_when_no_token_it_revokes_could_still_be_accepted() {
        let revocations = Revocations::default();
        revocations
            .add(&Revocation::Token("t1".to_owned()), Duration::ZERO)
            .expect("added");
        assert!(!revocations.revokes(&facts(Some("t1"), "alice", Some(1))));
    }
}
