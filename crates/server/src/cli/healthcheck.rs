//! `orchestrator-mcp healthcheck`: asks the server running on this machine
//! for `GET /health`, for container health checks that have no HTTP client.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::settings::Settings;

/// How long the check waits to connect, and then for the answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the server configured by `settings` answers `GET /health` with
/// 200; `Err` says what went wrong instead.
pub(crate) fn check(settings: &Settings) -> Result<(), String> {
    let address = local_address(settings.bind);
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|err| format!("{address}: {err}"))?;
    let request = format!("GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("{address}: sending the request failed: {err}"))?;
    // The status line is all the check needs; the health body is small.
    let mut answer = Vec::with_capacity(1024);
    stream
        .take(64 * 1024)
        .read_to_end(&mut answer)
        .map_err(|err| format!("{address}: reading the answer failed: {err}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{address}/health answered `{status}`"))
    }
}

/// Where to reach a server bound to `bind`: a wildcard address is reached
/// through loopback.
fn local_address(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_reached_through_loopback() {
        let reached = |bind: &str| local_address(bind.parse().expect("address")).to_string();
        assert_eq!(reached("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(reached("[::]:9000"), "[::1]:9000");
        assert_eq!(reached("10.0.0.7:80"), "10.0.0.7:80");
    }
}
