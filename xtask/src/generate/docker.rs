//! The `Dockerfile`: the server and every bundled plugin, built in one
//! stage and run as a non-root user in a slim one.

use super::Inputs;

/// The build image: the toolchain the workspace is tested with, on the
/// same Debian release as the run image so the binaries find their glibc.
/// It has a C compiler, which mimalloc's build needs.
const BUILD_IMAGE: &str = "rust:1.95-trixie";
const RUN_IMAGE: &str = "debian:trixie-slim";

/// A plugin crate's package name to its library's file name on Linux.
fn library_file(package: &str) -> String {
    format!("lib{}.so", package.replace('-', "_"))
}

pub(crate) fn dockerfile(inputs: &Inputs) -> String {
    let port = inputs.port;
    let libraries: Vec<String> = inputs
        .plugins
        .iter()
        .map(|plugin| format!("/src/target/release/{}", library_file(plugin)))
        .collect();
    format!(
        r#"# {banner}
#
# The server and the bundled plugins, built from this repository and run as
# an unprivileged user. Plugins: {plugins}.
#
# Configure it with environment variables (see .env.example). Demo mode is
# off, and the server listens on every interface, as a container must.

FROM {BUILD_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --workspace --exclude e2e --exclude fuzz-targets --exclude xtask

FROM {RUN_IMAGE}
RUN apt-get update \
 && apt-get install --yes --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin orchestrator
WORKDIR /app
COPY --from=build /src/target/release/orchestrator-mcp /app/orchestrator-mcp
COPY --from=build {libraries} /app/plugins/
COPY policies /app/policies
# For `orchestrator-mcp doctor`, which checks the policies' scopes against it.
COPY config/descope/scopes.json /app/config/descope/scopes.json
RUN mkdir /app/data && chown orchestrator /app/data
ENV HOST=0.0.0.0 \
    PORT={port} \
    DESCOPE_DEMO_MODE=false \
    PLUGIN_DIR=/app/plugins \
    POLICY_DIR=/app/policies \
    POLICY_WATCH=false \
    DATA_DIR=/app/data \
    LOG_FORMAT=json
USER orchestrator
EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/app/orchestrator-mcp", "healthcheck"]
ENTRYPOINT ["/app/orchestrator-mcp"]
"#,
        banner = super::banner(),
        plugins = inputs.plugins.join(", "),
        libraries = libraries.join(" "),
    )
}
