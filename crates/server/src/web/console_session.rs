//! Sessions of the admin console: a browser that signed in through the
//! login helper holds a cookie naming one; the session holds the principal
//! its token was verified as, never the token.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no
//! other site's page sends it), and `Secure` with the `__Host-` prefix when
//! the server is reached over https. Each session carries its own CSRF
//! token, which every form the console serves must send back.
//!
//! Over https only the `__Host-` cookie is read, so a cookie planted by a
//! sibling domain or over plain http cannot stand in for it.
//!
//! The table is bounded: at most [`MAX_SESSIONS`] sessions, and
//! [`MAX_SESSIONS_PER_PRINCIPAL`] for one principal, the oldest dropped
//! first. A session lasts as long as its token did, at most
//! [`MAX_LIFETIME`]; one for a principal the policies did not admit when
//! it opened lasts at most [`REFUSED_LIFETIME`], and a full table drops
//! those before any admitted one, so signing in many refused principals
//! cannot push an administrator out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use core_auth::Principal;
use sha2::{Digest as _, Sha256};

/// How many console sessions the server keeps at once.
pub(crate) const MAX_SESSIONS: usize = 10_000;
/// How many one principal keeps; a new sign-in drops its oldest.
pub(crate) const MAX_SESSIONS_PER_PRINCIPAL: usize = 8;
/// The longest a session lasts, whatever its token's lifetime: a scope
/// taken away at the identity provider is seen at the next sign-in.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest a session of a principal the policies refused lasts: long
/// enough to read why, and to be let in if a policy changes meanwhile.
pub(crate) const REFUSED_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The session cookie's name over plain http.
const COOKIE_NAME: &str = "orchestrator_console";
/// Its name over https: the `__Host-` prefix makes browsers refuse it
/// unless it is `Secure`, host-only and for the whole site.
const SECURE_COOKIE_NAME: &str = "__Host-orchestrator_console";

/// A signed-in console user.
#[derive(Clone)]
pub(crate) struct ConsoleSession {
    /// Who signed in, as their token was verified.
    pub(crate) principal: Arc<Principal>,
    /// What the console's forms must carry back.
    pub(crate) csrf: String,
    /// Whether the policies let the principal in when the session opened.
    admitted: bool,
    expires: Instant,
    /// Its place in the order sessions were opened.
    opened: u64,
}

/// The console's sessions, by a digest of their cookie value.
#[derive(Default)]
pub(crate) struct ConsoleSessions {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    sessions: HashMap<[u8; 32], ConsoleSession>,
    opened: u64,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl ConsoleSessions {
    /// Opens a session for `principal` lasting `lifetime` (at most
    /// [`MAX_LIFETIME`], or [`REFUSED_LIFETIME`] when not `admitted`); the
    /// cookie value naming it and its lifetime, or `None` when no random
    /// value could be made.
    pub(crate) fn open(
        &self,
        principal: Arc<Principal>,
        admitted: bool,
        lifetime: Duration,
    ) -> Option<(String, Duration)> {
        let lifetime = lifetime.min(if admitted {
            MAX_LIFETIME
        } else {
            REFUSED_LIFETIME
        });
        let id = oauth_kit::random_token().ok()?;
        let csrf = oauth_kit::random_token().ok()?;
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.opened += 1;
        let session = ConsoleSession {
            principal,
            csrf,
            admitted,
            expires: now + lifetime,
            opened: table.opened,
        };
        let sessions = &mut table.sessions;
        sessions.retain(|_, kept| kept.expires > now);
        // The oldest of `of`'s sessions, or of all: refused ones first.
        let oldest = |sessions: &HashMap<[u8; 32], ConsoleSession>, of: Option<&Principal>| {
            sessions
                .iter()
                .filter(|(_, kept)| of.is_none_or(|principal| same(&kept.principal, principal)))
                .min_by_key(|(_, kept)| (kept.admitted, kept.opened))
                .map(|(key, _)| *key)
        };
        let own = sessions
            .values()
            .filter(|kept| same(&kept.principal, &session.principal))
            .count();
        if own >= MAX_SESSIONS_PER_PRINCIPAL
            && let Some(key) = oldest(sessions, Some(&session.principal))
        {
            sessions.remove(&key);
        }
        while sessions.len() >= MAX_SESSIONS {
            let Some(key) = oldest(sessions, None) else {
                break;
            };
            sessions.remove(&key);
        }
        sessions.insert(key(&id), session);
        Some((id, lifetime))
    }

    /// The live session a request's cookie names, if any; `secure` when
    /// the server is reached over https.
    pub(crate) fn find(&self, headers: &HeaderMap, secure: bool) -> Option<ConsoleSession> {
        let id = cookie_value(headers, secure)?;
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let sessions = &mut table.sessions;
        let key = key(id);
        match sessions.get(&key) {
            Some(session) if session.expires > Instant::now() => Some(session.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session a request's cookie names.
    pub(crate) fn close(&self, headers: &HeaderMap, secure: bool) {
        if let Some(id) = cookie_value(headers, secure) {
            self.table
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .sessions
                .remove(&key(id));
        }
    }

    /// How many sessions are open (expired ones included until the next
    /// sign-in sweeps them).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sessions
            .len()
    }
}

fn same(a: &Principal, b: &Principal) -> bool {
    a.kind == b.kind && a.id == b.id && a.tenant == b.tenant
}

/// The console session's cookie value in a request: the `__Host-` one
/// over https, the plain one over http.
fn cookie_value(headers: &HeaderMap, secure: bool) -> Option<&str> {
    cookie(
        headers,
        if secure {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        },
    )
    .filter(|value| !value.is_empty())
}

/// The value of the cookie `name` in a request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` that hands a browser its session; `secure` when the
/// server is reached over https.
pub(crate) fn session_cookie(id: &str, secure: bool, lifetime: Duration) -> Option<HeaderValue> {
    let seconds = lifetime.min(MAX_LIFETIME).as_secs();
    let value = if secure {
        format!(
            "{SECURE_COOKIE_NAME}={id}; Path=/; Max-Age={seconds}; HttpOnly; Secure; SameSite=Strict"
        )
    } else {
        format!("{COOKIE_NAME}={id}; Path=/; Max-Age={seconds}; HttpOnly; SameSite=Strict")
    };
    HeaderValue::from_str(&value).ok()
}

/// The `Set-Cookie` that makes a browser forget its session.
pub(crate) fn expired_cookie(secure: bool) -> HeaderValue {
    HeaderValue::from_static(if secure {
        "__Host-orchestrator_console=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
    } else {
        "orchestrator_console=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(id: &str) -> Arc<Principal> {
        Arc::new(Principal {
            id: id.to_owned(),
            kind: core_auth::PrincipalKind::User,
            scopes: Default::default(),
            roles: Default::default(),
            tenant: None,
            tenants: Default::default(),
            credential: Default::default(),
        })
    }

    fn with_cookie(value: &str) -> HeaderMap {
        cookies(&format!("other=1; {COOKIE_NAME}={value}"))
    }

    fn cookies(header: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(header).expect("header"));
        headers
    }

    /// Opens an admitted session for `id` lasting a minute.
    fn open(sessions: &ConsoleSessions, id: &str) -> String {
        sessions
            .open(principal(id), true, Duration::from_secs(60))
            .expect("opened")
            .0
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_closed() {
        let sessions = ConsoleSessions::default();
        let id = open(&sessions, "alice");
        let found = sessions.find(&with_cookie(&id), false).expect("found");
        assert_eq!(found.principal.id, "alice");
        assert!(sessions.find(&with_cookie("forged"), false).is_none());
        sessions.close(&with_cookie(&id), false);
        assert!(sessions.find(&with_cookie(&id), false).is_none());
    }

    #[test]
    fn an_expired_session_is_not_found() {
        let sessions = ConsoleSessions::default();
        let (id, _) = sessions
            .open(principal("alice"), true, Duration::ZERO)
            .expect("opened");
        assert!(sessions.find(&with_cookie(&id), false).is_none());
    }

    #[test]
    fn one_principal_past_its_quota_loses_only_its_own_oldest_session() {
        let sessions = ConsoleSessions::default();
        let other = open(&sessions, "bob");
        let first = open(&sessions, "alice");
        for _ in 1..MAX_SESSIONS_PER_PRINCIPAL {
            open(&sessions, "alice");
        }
        assert!(sessions.find(&with_cookie(&first), false).is_some());
        open(&sessions, "alice");
        assert!(sessions.find(&with_cookie(&first), false).is_none());
        assert!(sessions.find(&with_cookie(&other), false).is_some());
        assert_eq!(sessions.len(), MAX_SESSIONS_PER_PRINCIPAL + 1);
    }

    #[test]
    fn a_full_table_drops_refused_sessions_before_any_admitted_one() {
        let sessions = ConsoleSessions::default();
        let admin = open(&sessions, "admin");
        for n in 0..MAX_SESSIONS + 10 {
            let (_, lifetime) = sessions
                .open(principal(&format!("visitor-{n}")), false, MAX_LIFETIME)
                .expect("opened");
            assert_eq!(lifetime, REFUSED_LIFETIME);
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.find(&with_cookie(&admin), false).is_some());
    }

    #[test]
    fn over_https_only_the_host_prefixed_cookie_names_a_session() {
        let sessions = ConsoleSessions::default();
        let id = open(&sessions, "alice");
        let plain = cookies(&format!("{COOKIE_NAME}={id}"));
        let prefixed = cookies(&format!("{SECURE_COOKIE_NAME}={id}"));
        assert!(sessions.find(&plain, true).is_none());
        assert!(sessions.find(&prefixed, true).is_some());
        assert!(sessions.find(&prefixed, false).is_none());
        assert!(sessions.find(&plain, false).is_some());
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let plain = session_cookie("abc", false, Duration::from_secs(60)).expect("cookie");
        assert_eq!(
            plain,
            "orchestrator_console=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        let secure = session_cookie("abc", true, Duration::from_secs(10 * 3600)).expect("cookie");
        assert_eq!(
            secure,
            "__Host-orchestrator_console=abc; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Strict"
        );
    }
}
