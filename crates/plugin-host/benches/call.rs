//! What the plugin boundary adds to a call: `ping` through the host (JSON
//! both ways, the C ABI, the blocking pool, the time limit) against the same
//! plugin function called directly, in one run.
//!
//! The bench allocates with the server's allocator, mimalloc, and loads the
//! release build of `core-tools` from the target directory, building it
//! first (a no-op when it is fresh). `cargo xtask bench` prints the figures
//! with the target.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use core_tools::CoreTools;
use criterion::{Criterion, criterion_group, criterion_main};
use plugin_api::{CallContext, Plugin, PrincipalKind, ToolContext};
use plugin_host::{LoadOptions, PluginHost, library_file_name};
use serde_json::{Map, Value};

fn context() -> CallContext {
    CallContext {
        principal_id: "bench-user".to_owned(),
        principal_kind: PrincipalKind::User,
        scopes: vec!["tools:ping".to_owned()],
        tenant: None,
        request_id: "bench".to_owned(),
        can_ask: Vec::new(),
        inputs: Map::new(),
    }
}

/// The directory holding `libcore_tools.so` for this build profile: the
/// bench runs from `<target>/<profile>/deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench knows where it is");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the bench runs from <target>/<profile>/deps")
        .to_owned()
}

/// A directory holding only the `core-tools` library, freshly built: a
/// library left from an older build may speak another ABI version.
fn plugin_dir() -> tempfile::TempDir {
    let file = library_file_name("core-tools");
    let built = profile_dir().join(&file);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--package", "core-tools"])
        .status()
        .expect("run cargo to build core-tools");
    assert!(status.success(), "building core-tools failed");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&built, dir.path().join(&file)).expect("copy core-tools");
    dir
}

fn calls(c: &mut Criterion) {
    let dir = plugin_dir();
    let host = PluginHost::load(dir.path(), &LoadOptions::default()).expect("core-tools loads");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("plugin_call");

    group.bench_function("direct", |b| {
        b.iter(|| {
            let result = CoreTools::invoke("ping", Map::new(), &ToolContext::new(Some(context())));
            assert!(!result.is_error);
            black_box(result)
        });
    });

    group.bench_function("through_host", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let result = host
                        .call("ping", Value::Object(Map::new()), context(), None, 0)
                        .await
                        .expect("ping is known");
                    assert!(!result.is_error, "{result:?}");
                    black_box(result);
                }
                started.elapsed()
            })
        });
    });
    group.finish();
}

/// The server's allocator (see its `main.rs`): what a call costs depends on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

criterion_group!(benches, calls);
criterion_main!(benches);
