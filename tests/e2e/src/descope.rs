//! A local stand-in for Descope: a JWKS endpoint on loopback, backed by a
//! real RSA key, that tests can take down to simulate an outage; the
//! access-key exchange; and an inbound app's authorization-code flow with
//! PKCE (its authorize step signs the user in at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use oauth_kit::SigningKey;
use serde_json::{Value, json};

use crate::Launch;

/// The project id the fake Descope serves.
pub const PROJECT: &str = "P2e2eproject";
/// The one access key the fake Descope accepts.
pub const ACCESS_KEY: &str = "K2E2EMACHINEKEY:secret-part";
/// The id of that access key: the `sub` of its session tokens.
pub const ACCESS_KEY_ID: &str = "K2E2EMACHINEKEY";

/// One key per test binary: RSA generation is slow in debug builds.
fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("generate RSA key"))
}

/// The inbound app's client id the fake knows, and the user it signs in.
pub const CLIENT_ID: &str = "UA2e2eloginhelper";
/// The user the fake's authorize step signs in.
pub const USER: &str = "U2e2eperson";

#[derive(Clone)]
struct Shared {
    up: Arc<AtomicBool>,
    jwks_requests: Arc<AtomicUsize>,
    base_url: Arc<OnceLock<String>>,
    /// Codes issued, with what each was issued for.
    codes: Arc<Mutex<HashMap<String, IssuedCode>>>,
}

/// What a code was issued for: the PKCE challenge, the redirect URI and
/// the scopes.
type IssuedCode = (String, String, String);

/// A running fake Descope. Stops when dropped.
pub struct FakeDescope {
    base_url: String,
    shared: Shared,
    _runtime: tokio::runtime::Runtime,
}

impl FakeDescope {
    /// Starts the fake on an ephemeral loopback port.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let shared = Shared {
            up: Arc::new(AtomicBool::new(true)),
            jwks_requests: Arc::new(AtomicUsize::new(0)),
            base_url: Arc::new(OnceLock::new()),
            codes: Arc::default(),
        };
        let app = axum::Router::new()
            .route(&format!("/{PROJECT}/.well-known/jwks.json"), get(jwks))
            .route(
                &format!("/v1/apps/{PROJECT}/.well-known/openid-configuration"),
                get(openid_configuration),
            )
            .route("/v1/auth/accesskey/exchange", post(exchange))
            .route("/oauth2/v1/apps/authorize", get(authorize))
            .route("/oauth2/v1/apps/token", post(token))
            .with_state(shared.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind fake Descope");
        let address = listener.local_addr().expect("address");
        let _ = shared.base_url.set(format!("http://{address}"));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{address}"),
            shared,
            _runtime: runtime,
        }
    }

    /// The fake's API base URL (`DESCOPE_BASE_URL`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Makes the fake answer 503 (`false`) or serve again (`true`).
    pub fn set_up(&self, up: bool) {
        self.shared.up.store(up, Ordering::SeqCst);
    }

    /// How many times the JWKS was requested.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// Settings that point a server at this fake, in production mode.
    ///
    /// The fake's tokens name the project as their audience, as Descope's
    /// session and access-key tokens do, so the server is told to accept
    /// that audience, as a deployment that uses access keys is.
    pub fn launch(&self) -> Launch {
        self.launch_for_this_server_only()
            .env("JWT_ACCEPT_PROJECT_AUDIENCE", "true")
    }

    /// Settings that point a server at this fake with the default audience
    /// rule: only tokens issued for the server's own resource URLs.
    pub fn launch_for_this_server_only(&self) -> Launch {
        Launch::default()
            .env("DESCOPE_DEMO_MODE", "false")
            .env("DESCOPE_PROJECT_ID", PROJECT)
            .env("DESCOPE_BASE_URL", &self.base_url)
    }

    /// Claims of a valid token for `sub` with `scope`.
    pub fn claims(&self, sub: &str, scope: &str) -> Value {
        let now = unix_now();
        json!({
            "iss": format!("{}/{PROJECT}", self.base_url),
            "sub": sub,
            "aud": [PROJECT],
            "iat": now,
            "exp": now + 600,
            "scope": scope,
        })
    }

    /// A token carrying `claims`, signed with the fake's key.
    pub fn sign(&self, claims: &Value) -> String {
        signing_key().sign(claims).expect("sign")
    }
}

async fn jwks(State(shared): State<Shared>) -> Result<axum::Json<Value>, StatusCode> {
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    if shared.up.load(Ordering::SeqCst) {
        Ok(axum::Json(signing_key().jwks()))
    } else {
        Err(StatusCode::SERVICE_UNAVAILABLE)
    }
}

/// The project's OpenID configuration, as Descope publishes it for its
/// inbound apps.
async fn openid_configuration(
    State(shared): State<Shared>,
) -> Result<axum::Json<Value>, StatusCode> {
    if !shared.up.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    let base = shared.base_url.get().cloned().unwrap_or_default();
    let issuer = format!("{base}/v1/apps/{PROJECT}");
    Ok(axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/oauth2/v1/apps/authorize"),
        "token_endpoint": format!("{base}/oauth2/v1/apps/token"),
        "jwks_uri": format!("{base}/{PROJECT}/.well-known/jwks.json"),
        "code_challenge_methods_supported": ["S256"],
    })))
}

/// `POST /v1/auth/accesskey/exchange`, as Descope answers it.
async fn exchange(
    State(shared): State<Shared>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, (StatusCode, axum::Json<Value>)> {
    let expected = format!("Bearer {PROJECT}:{ACCESS_KEY}");
    let presented = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    if presented != Some(expected.as_str()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errorCode": "E061102", "errorDescription": "Invalid access key"})),
        ));
    }
    let now = unix_now();
    let base = shared.base_url.get().cloned().unwrap_or_default();
    let claims = json!({
        "iss": format!("{base}/{PROJECT}"),
        "sub": ACCESS_KEY_ID,
        "aud": [PROJECT],
        "iat": now,
        "exp": now + 900,
        "permissions": ["tools:ping"],
    });
    let jwt = signing_key().sign(&claims).expect("sign");
    Ok(axum::Json(
        json!({"keyId": ACCESS_KEY_ID, "sessionJwt": jwt, "expiration": now + 900}),
    ))
}

/// `GET /oauth2/v1/apps/authorize`: signs [`USER`] in at once and sends
/// the browser back with a code (Descope would show its sign-in first).
async fn authorize(
    State(shared): State<Shared>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Result<axum::response::Redirect, StatusCode> {
    let field = |name: &str| query.get(name).cloned().ok_or(StatusCode::BAD_REQUEST);
    if field("client_id")? != CLIENT_ID || field("code_challenge_method")? != "S256" {
        return Err(StatusCode::BAD_REQUEST);
    }
    let redirect_uri = field("redirect_uri")?;
    let code = oauth_kit::random_token().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    shared
        .codes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            code.clone(),
            (
                field("code_challenge")?,
                redirect_uri.clone(),
                query.get("scope").cloned().unwrap_or_default(),
            ),
        );
    let location = oauth_kit::with_query(
        &redirect_uri,
        &[("code", &code), ("state", &field("state")?)],
    );
    Ok(axum::response::Redirect::to(&location))
}

/// `POST /oauth2/v1/apps/token`: a code, once, for the verifier of its
/// challenge.
async fn token(
    State(shared): State<Shared>,
    axum::extract::Form(form): axum::extract::Form<HashMap<String, String>>,
) -> Result<axum::Json<Value>, (StatusCode, axum::Json<Value>)> {
    let refused = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": why})),
        )
    };
    let code = form.get("code").ok_or_else(|| refused("no code"))?;
    let (challenge, redirect_uri, scope) = shared
        .codes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(code)
        .ok_or_else(|| refused("unknown code"))?;
    let verifier = form
        .get("code_verifier")
        .ok_or_else(|| refused("no verifier"))?;
    if !oauth_kit::pkce_matches(verifier, &challenge)
        || form.get("redirect_uri") != Some(&redirect_uri)
        || form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
    {
        return Err(refused("the code was issued for another request"));
    }
    let now = unix_now();
    let base = shared.base_url.get().cloned().unwrap_or_default();
    let claims = json!({
        "iss": format!("{base}/v1/apps/{PROJECT}"),
        "sub": USER,
        "aud": [PROJECT],
        "iat": now,
        "exp": now + 900,
        "scope": scope,
    });
    let jwt = signing_key().sign(&claims).expect("sign");
    Ok(axum::Json(
        json!({"access_token": jwt, "token_type": "Bearer", "expires_in": 900}),
    ))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
