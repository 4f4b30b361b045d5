//! The one wall clock every token time (`iat`, `exp`, `client_id_issued_at`)
//! is read from.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch; zero on a clock set before 1970 rather than a
/// panic (tokens are then minted and checked against that zero).
pub fn unix_time() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}
