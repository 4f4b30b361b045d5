//! One plugin library: opening it, checking its ABI, and the raw calls;
//! and unmapping the pages of code start-up ran.
//!
//! With `callbacks`, the only modules of this crate that may use `unsafe`:
//! the pool, the schemas and the rest stay in safe Rust.

#![expect(
    unsafe_code,
    reason = "opening a library and calling its vtable is the host side of the C ABI; dropping the pages of mapped code is a system call on raw addresses"
)]

use std::ffi::c_void;
use std::fmt;
use std::path::{Path, PathBuf};

use plugin_api::{
    ABI_VERSION, ENTRY_SYMBOL, HostApi, InvokeFn, OLDEST_ABI_VERSION, OutputSink, PluginDescriptor,
    PluginEntryFn, PluginVTable, PluginVTableV2, Status, ToolResult,
};

use crate::LoadError;

/// An opened plugin whose ABI version this host loads. Never unloaded.
pub(crate) struct PluginLibrary {
    file: PathBuf,
    vtable: VTable,
}

/// A plugin's vtable, in the layout of the ABI version it declared.
enum VTable {
    V2(&'static PluginVTableV2),
    V3(&'static PluginVTable),
}

/// What a plugin exports besides `describe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `invoke`: a tool call.
    Invoke,
    /// `read_resource` (ABI 3).
    ReadResource,
    /// `get_prompt` (ABI 3).
    GetPrompt,
}

/// Why a call into a plugin produced no usable result.
#[derive(Debug)]
pub(crate) enum PluginFailure {
    /// The plugin reported an error through its status.
    Reported(String),
    /// The plugin panicked; the panic was caught on its side.
    Panicked(String),
    /// The plugin answered with bytes that are not the promised JSON.
    InvalidOutput(String),
    /// The plugin returned a status this host does not know.
    UnknownStatus(u32),
}

impl fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reported(message) => write!(f, "the plugin reported an error: {message}"),
            Self::Panicked(message) => write!(f, "the plugin panicked: {message}"),
            Self::InvalidOutput(reason) => {
                write!(f, "the plugin returned invalid output: {reason}")
            }
            Self::UnknownStatus(code) => write!(f, "the plugin returned unknown status {code}"),
        }
    }
}

impl PluginLibrary {
    /// Opens the plugin `file` from `from` (the file itself, or where a
    /// pinned library's checked bytes were set aside), finds the entry point
    /// and checks the ABI version before reading anything else from the
    /// vtable. Errors name `file`.
    pub(crate) fn open(file: &Path, from: &Path) -> Result<Self, LoadError> {
        // SAFETY: loading a library runs its initialisers. Plugins are trusted
        // code by design (see ARCHITECTURE.md); the operator chooses the
        // plugin directory.
        let library =
            unsafe { libloading::Library::new(from) }.map_err(|err| LoadError::NotALibrary {
                file: file.to_owned(),
                reason: err.to_string(),
            })?;
        // Leaked on purpose: plugins are never unloaded, so the vtable and the
        // functions it points to stay valid for the life of the process.
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is fixed by the ABI contract.
        let entry = unsafe { library.get::<PluginEntryFn>(ENTRY_SYMBOL) }.map_err(|_| {
            LoadError::MissingSymbol {
                file: file.to_owned(),
                symbol: String::from_utf8_lossy(&ENTRY_SYMBOL[..ENTRY_SYMBOL.len() - 1])
                    .into_owned(),
            }
        })?;
        // SAFETY: the entry point takes no arguments and returns a pointer to
        // a static vtable.
        let raw = unsafe { entry() };
        if raw.is_null() {
            return Err(LoadError::bad_descriptor(
                file,
                "the entry point returned a null vtable",
            ));
        }
        // SAFETY: every ABI version keeps a `u32` version as the first field,
        // so reading it is valid whatever the rest of the layout is.
        let found = unsafe { *(raw as *const u32) };
        let vtable = match found {
            // SAFETY: the version says the layout is `PluginVTable`, static
            // in the never-unloaded library.
            ABI_VERSION => VTable::V3(unsafe { &*raw }),
            // SAFETY: version 2's layout is `PluginVTableV2`, likewise static.
            OLDEST_ABI_VERSION => VTable::V2(unsafe { &*raw.cast::<PluginVTableV2>() }),
            _ => {
                return Err(LoadError::AbiMismatch {
                    file: file.to_owned(),
                    found,
                    oldest: OLDEST_ABI_VERSION,
                    expected: ABI_VERSION,
                });
            }
        };
        Ok(Self {
            file: file.to_owned(),
            vtable,
        })
    }

    /// The ABI version the plugin was built against.
    pub(crate) fn abi_version(&self) -> u32 {
        match self.vtable {
            VTable::V2(vtable) => vtable.abi_version,
            VTable::V3(vtable) => vtable.abi_version,
        }
    }

    /// Reads and parses the plugin's descriptor.
    pub(crate) fn describe(&self) -> Result<PluginDescriptor, LoadError> {
        let mut bytes = Vec::new();
        let status = write_into(&mut bytes, |sink| {
            // SAFETY: `describe` is a valid function of a matching ABI; the
            // sink outlives the call.
            unsafe {
                match self.vtable {
                    VTable::V2(vtable) => (vtable.describe)(sink),
                    VTable::V3(vtable) => (vtable.describe)(sink),
                }
            }
        })
        .map_err(|failure| LoadError::bad_descriptor(&self.file, failure.to_string()))?;
        read_descriptor(&self.file, status, &bytes)
    }

    /// Runs one call of `entry`: `request` is the JSON it reads (a
    /// [`plugin_api::CallRequest`] for `invoke`), and the plugin's answer is
    /// appended to `answer` (read a tool's with [`read_result`]). Blocking:
    /// the host calls this on its plugin threads.
    pub(crate) fn call(
        &self,
        entry: Entry,
        request: &[u8],
        answer: &mut Vec<u8>,
        host: &HostApi,
    ) -> Result<Status, PluginFailure> {
        let function: InvokeFn = match (&self.vtable, entry) {
            (VTable::V2(vtable), Entry::Invoke) => vtable.invoke,
            (VTable::V3(vtable), Entry::Invoke) => vtable.invoke,
            (VTable::V3(vtable), Entry::ReadResource) => vtable.read_resource,
            (VTable::V3(vtable), Entry::GetPrompt) => vtable.get_prompt,
            (VTable::V2(_), _) => {
                return Err(PluginFailure::Reported(format!(
                    "{} is built against ABI version 2, which has no resources or prompts",
                    self.file.display()
                )));
            }
        };
        write_into(answer, |sink| {
            // SAFETY: the function belongs to the plugin's vtable, in the
            // layout of its version; the request bytes, the callbacks and the
            // sink outlive the call. A version 2 plugin reads only the
            // version 2 prefix of the callbacks.
            unsafe { function(request.as_ptr(), request.len(), host, sink) }
        })
    }
}

/// The descriptor in the answer of `file`'s plugin to `describe`.
pub(crate) fn read_descriptor(
    file: &Path,
    status: Status,
    bytes: &[u8],
) -> Result<PluginDescriptor, LoadError> {
    let payload = read_payload(status, bytes)
        .map_err(|failure| LoadError::bad_descriptor(file, failure.to_string()))?;
    serde_json::from_slice(payload).map_err(|err| {
        LoadError::bad_descriptor(file, format!("descriptor is not valid JSON: {err}"))
    })
}

/// The tool result in a plugin's answer to `invoke`.
pub(crate) fn read_result(status: Status, answer: &[u8]) -> Result<ToolResult, PluginFailure> {
    // Checking the whole answer as UTF-8 at once is much cheaper than
    // checking each string in it as it is parsed.
    let answer = std::str::from_utf8(read_payload(status, answer)?)
        .map_err(|err| PluginFailure::InvalidOutput(format!("not UTF-8: {err}")))?;
    serde_json::from_str(answer)
        .map_err(|err| PluginFailure::InvalidOutput(format!("not a tool result: {err}")))
}

/// The payload of an answer with `status`, or the failure it reports.
pub(crate) fn read_payload(status: Status, bytes: &[u8]) -> Result<&[u8], PluginFailure> {
    let text = || String::from_utf8_lossy(bytes).into_owned();
    match status {
        Status::OK => Ok(bytes),
        Status::ERROR => Err(PluginFailure::Reported(text())),
        Status::PANIC => Err(PluginFailure::Panicked(text())),
        Status(other) => Err(PluginFailure::UnknownStatus(other)),
    }
}

/// The most output one call may write. A plugin that writes more gets an
/// error instead of making the server run out of memory.
pub(crate) const MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

/// A host-owned output buffer with a size cap.
struct HostBuffer<'a> {
    bytes: &'a mut Vec<u8>,
    start: usize,
    overflowed: bool,
}

/// Calls `f` with a sink that appends to `buffer`, at most
/// [`MAX_OUTPUT_BYTES`].
fn write_into(
    buffer: &mut Vec<u8>,
    f: impl FnOnce(OutputSink) -> Status,
) -> Result<Status, PluginFailure> {
    let start = buffer.len();
    let mut host_buffer = HostBuffer {
        bytes: buffer,
        start,
        overflowed: false,
    };
    let sink = OutputSink {
        ctx: (&mut host_buffer as *mut HostBuffer<'_>).cast::<c_void>(),
        write: append_to_buffer,
    };
    let status = f(sink);
    if host_buffer.overflowed {
        return Err(PluginFailure::InvalidOutput(format!(
            "output exceeds {} MiB",
            MAX_OUTPUT_BYTES / (1024 * 1024)
        )));
    }
    Ok(status)
}

/// The host's write callback: appends the plugin's bytes to the buffer.
unsafe extern "C" fn append_to_buffer(ctx: *mut c_void, data: *const u8, len: usize) {
    if ctx.is_null() || len == 0 {
        return;
    }
    // SAFETY: `ctx` is the `HostBuffer` created in `write_into`, alive and
    // not otherwise borrowed while the plugin runs.
    let buffer = unsafe { &mut *ctx.cast::<HostBuffer<'_>>() };
    let written = buffer.bytes.len() - buffer.start;
    // The cap also keeps `len` far below `isize::MAX`, which
    // `slice::from_raw_parts` requires.
    if data.is_null() || buffer.overflowed || len > MAX_OUTPUT_BYTES - written {
        buffer.overflowed = true;
        return;
    }
    // SAFETY: the plugin passes `len` readable bytes at `data`.
    buffer
        .bytes
        .extend_from_slice(unsafe { std::slice::from_raw_parts(data, len) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_cap_is_refused_not_buffered() {
        let chunk = vec![b'x'; 1024 * 1024];
        let mut buffer = Vec::new();
        let outcome = write_into(&mut buffer, |sink| {
            for _ in 0..=(MAX_OUTPUT_BYTES / chunk.len()) {
                // SAFETY: the sink is the one `write_into` made for this call.
                unsafe { sink.write(&chunk) };
            }
            Status::OK
        });
        assert!(
            matches!(outcome, Err(PluginFailure::InvalidOutput(ref m)) if m.contains("64 MiB")),
            "{outcome:?}"
        );
    }

    #[test]
    fn answers_that_are_not_utf8_or_not_a_tool_result_are_invalid_output() {
        for (answer, reason) in [
            (&b"{\"content\":[\"\xff\"]}"[..], "not UTF-8"),
            (&b"{\"content\":"[..], "not a tool result"),
        ] {
            let failure = read_result(Status::OK, answer).expect_err("refused");
            assert!(
                matches!(&failure, PluginFailure::InvalidOutput(m) if m.starts_with(reason)),
                "{failure:?}"
            );
        }
        let result = read_result(Status::OK, br#"{"content":[],"isError":true}"#);
        assert!(result.expect("a tool result").is_error);
    }

    #[test]
    fn output_under_the_cap_arrives_whole() {
        let mut buffer = b"kept ".to_vec();
        let outcome = write_into(&mut buffer, |sink| {
            // SAFETY: as above.
            unsafe {
                sink.write(b"hello ");
                sink.write(b"");
                sink.write(b"world");
            }
            Status::OK
        });
        assert_eq!(outcome.expect("written"), Status::OK);
        assert_eq!(buffer, b"kept hello world");
    }
}

/// Unmaps from this process the pages of code it mapped from files (the
/// server's binary, the plugins, the system libraries), and returns how
/// many bytes of mappings it did so for.
///
/// Called once the server has started: loading plugins, compiling
/// policies and reading the settings run megabytes of code that no
/// request runs again, and a page of code once run stays mapped, counted
/// in the process's resident memory, until the kernel needs the memory.
/// Afterwards the code requests run is mapped again on first use from the
/// page cache (a minor fault); the rest stays in the page cache, where the
/// kernel may reclaim it, as it may reclaim any clean page of a file.
///
/// Only executable, private mappings of files none of whose pages were
/// ever written (no copy-on-write page, as `smaps` counts them) are
/// unmapped: for those, dropping a page is what the kernel's own reclaim
/// does, and the page reads the same from the file. Elsewhere than on
/// Linux it does nothing.
pub fn release_code_pages() -> usize {
    #[cfg(target_os = "linux")]
    {
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            return 0;
        };
        untouched_code(&smaps)
            .filter(|mapping| drop_pages(mapping.start, mapping.end - mapping.start))
            .map(|mapping| mapping.end - mapping.start)
            .sum()
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// One mapping of `/proc/self/smaps`.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
}

/// The mappings in `smaps` (in `/proc/<pid>/smaps` form) of code from
/// files never written to: executable, private, not writable, with a path,
/// and no anonymous (copied-on-write) pages.
fn untouched_code(smaps: &str) -> impl Iterator<Item = Mapping> + '_ {
    let mut current: Option<Mapping> = None;
    smaps.lines().filter_map(move |line| {
        if let Some(anonymous) = line.strip_prefix("Anonymous:") {
            let untouched = anonymous.trim() == "0 kB";
            return current.take().filter(|_| untouched);
        }
        if let Some(mapping) = code_mapping(line) {
            current = Some(mapping);
        } else if is_mapping_line(line) {
            current = None;
        }
        None
    })
}

/// A mapping's first line, when it maps code from a file.
fn code_mapping(line: &str) -> Option<Mapping> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let permissions = fields.next()?;
    let path = fields.nth(3)?;
    if permissions != "r-xp" || !path.starts_with('/') {
        return None;
    }
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then_some(Mapping { start, end })
}

/// Whether `line` begins a mapping (`start-end perms …`), not a field.
fn is_mapping_line(line: &str) -> bool {
    line.split_ascii_whitespace()
        .next()
        .and_then(|range| range.split_once('-'))
        .is_some_and(|(start, end)| {
            usize::from_str_radix(start, 16).is_ok() && usize::from_str_radix(end, 16).is_ok()
        })
}

/// Drops this process's pages of the `len` bytes mapped at `start`.
#[cfg(target_os = "linux")]
fn drop_pages(start: usize, len: usize) -> bool {
    // SAFETY: the range is a whole private, read-only mapping of a file,
    // read from /proc/self/smaps a moment ago, none of whose pages was
    // written: dropping its pages changes nothing it reads, as each is read
    // again from the file on use. A range unmapped meanwhile and mapped
    // anew could be anonymous memory, which would read as zeroes; the
    // binary's and the libraries' code is never unmapped (plugins are
    // never unloaded), and the server calls this before it serves.
    unsafe { rustix::mm::madvise(start as *mut c_void, len, rustix::mm::Advice::LinuxDontNeed) }
        .is_ok()
}

#[cfg(test)]
mod code_page_tests {
    use super::*;

    #[test]
    fn only_code_from_files_never_written_is_dropped() {
        let smaps = "\
55d0c0000000-55d0c0200000 r--p 00000000 08:01 123 /usr/bin/orchestrator-mcp
Rss:                 100 kB
Anonymous:             0 kB
55d0c0200000-55d0c1800000 r-xp 00200000 08:01 123 /usr/bin/orchestrator-mcp
Rss:               20000 kB
Anonymous:             0 kB
55d0c1800000-55d0c1900000 rw-p 01800000 08:01 123 /usr/bin/orchestrator-mcp
Anonymous:            12 kB
7f0000000000-7f0000100000 r-xp 00000000 00:00 0
Anonymous:             0 kB
7f0000100000-7f0000200000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
7f0000200000-7f0000300000 r-xp 00000000 00:05 9 /memfd:plugin (deleted)
Anonymous:             0 kB
7f0000300000-7f0000400000 r-xp 00000000 08:01 77 /opt/plugins/libcore_tools.so
Anonymous:             4 kB
7f0000400000-7f0000500000 r-xp 00000000 08:01 78 /opt/plugins/libcode_tools.so
Anonymous:             0 kB
";
        let mappings: Vec<Mapping> = untouched_code(smaps).collect();
        assert_eq!(
            mappings,
            [
                Mapping {
                    start: 0x55d0_c020_0000,
                    end: 0x55d0_c180_0000
                },
                Mapping {
                    start: 0x7f00_0020_0000,
                    end: 0x7f00_0030_0000
                },
                Mapping {
                    start: 0x7f00_0040_0000,
                    end: 0x7f00_0050_0000
                },
            ]
        );
    }

    /// Set in the child process the test below runs itself in.
    const ALONE: &str = "PLUGIN_HOST_CODE_PAGES_ALONE";

    /// In a process of its own: other tests running code on other threads
    /// would map pages again while it measures.
    #[cfg(target_os = "linux")]
    #[test]
    fn dropping_code_pages_leaves_it_running_and_resident_memory_smaller() {
        if std::env::var_os(ALONE).is_some() {
            dropping_code_pages_alone();
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "--exact",
                "library::code_page_tests::dropping_code_pages_leaves_it_running_and_resident_memory_smaller",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(ALONE, "1")
            .output()
            .expect("the test binary runs");
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[cfg(target_os = "linux")]
    fn dropping_code_pages_alone() {
        let resident_file = || {
            std::fs::read_to_string("/proc/self/status")
                .expect("status")
                .lines()
                .find_map(|line| line.strip_prefix("RssFile:"))
                .and_then(|kb| kb.trim().trim_end_matches(" kB").parse::<u64>().ok())
                .expect("RssFile")
        };
        let before = resident_file();
        let dropped = release_code_pages();
        assert!(dropped > 0, "no code mapping was found");
        let after = resident_file();
        assert!(
            after < before,
            "RssFile {before} kB before, {after} kB after"
        );
        // The dropped code runs again, read anew from the file.
        assert!(release_code_pages() > 0);
    }
}
