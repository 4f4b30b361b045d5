//! A pinned library (`plugins.sha256`): read once, checked, and loaded from
//! the very bytes that were checked.
//!
//! Hashing a file by its path and then handing the same path to the dynamic
//! loader leaves a window between the two: whoever can write the plugin
//! directory can swap the file (a rename, a symlink, a write into it) after
//! the hash matched and before the loader opens it, and the server runs code
//! nobody pinned. Here the library is read into memory once, its digest is
//! taken of those bytes, and those bytes are copied where no one else can
//! change them before the loader opens them:
//!
//! - on Linux, a memfd: an anonymous file that exists only as this process's
//!   descriptor, sealed against every write, growth and shrinking (and
//!   against removing the seals) before it is opened, so not even this
//!   process can change it; the loader opens it as `/proc/self/fd/<fd>`;
//! - elsewhere, or where the kernel refuses executable memfds
//!   (`vm.memfd_noexec=2`) or `/proc` is not mounted, a new temporary file
//!   created exclusively with mode 0600: only the server's own user could
//!   change it, and that user can change the running server anyway.
//!
//! The file in the plugin directory is never opened again, so swapping it
//! once the bytes are read changes nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::LoadError;

/// Where a pinned library's checked bytes wait for the loader.
pub(crate) struct Pinned {
    path: PathBuf,
    /// The temporary file, when there is one; removed once the library is
    /// open (the loader's mapping keeps its bytes).
    _file: Option<tempfile::NamedTempFile>,
}

impl Pinned {
    /// Reads `file` once and refuses it unless the SHA-256 of what was read
    /// is `pin` (hex, either case); then sets those bytes aside for the
    /// loader.
    pub(crate) fn read(file: &Path, pin: &str) -> Result<Self, LoadError> {
        let bytes = std::fs::read(file).map_err(|err| LoadError::NotALibrary {
            file: file.to_owned(),
            reason: format!("cannot read it to check its pin: {err}"),
        })?;
        let actual = sha256_hex(&bytes);
        if actual != pin.to_ascii_lowercase() {
            return Err(LoadError::PinMismatch {
                file: file.to_owned(),
                expected: pin.to_owned(),
                actual,
            });
        }
        let name = file
            .file_name()
            .map_or_else(|| "plugin".to_owned(), |n| n.to_string_lossy().into_owned());
        #[cfg(target_os = "linux")]
        match sealed_memfd(&name, &bytes) {
            Ok(path) => return Ok(Self { path, _file: None }),
            Err(err) => tracing::warn!(
                file = %file.display(),
                %err,
                "a sealed memfd cannot hold the pinned plugin; loading it from a private temporary file"
            ),
        }
        let temporary = private_file(&name, &bytes).map_err(|err| LoadError::Staging {
            file: file.to_owned(),
            reason: err.to_string(),
        })?;
        Ok(Self {
            path: temporary.path().to_owned(),
            _file: Some(temporary),
        })
    }

    /// The path the loader opens: the checked bytes, not the plugin file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The SHA-256 of `bytes`, in lower-case hex as `sha256sum` prints it.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `bytes` in a sealed memfd, named by its `/proc/self/fd` path.
///
/// The descriptor stays open for the life of the process, as the library
/// stays loaded: the loader knows a library by the path it was opened
/// from, and a closed descriptor's number, reused for the next pinned
/// plugin, would give that plugin the first one's path, which the loader
/// would answer with the library it already holds.
#[cfg(target_os = "linux")]
fn sealed_memfd(name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::os::fd::{AsRawFd as _, IntoRawFd as _};

    use rustix::fs::{MemfdFlags, SealFlags};

    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // Since Linux 6.3 a memfd may be made non-executable unless it asks
    // (`vm.memfd_noexec`); older kernels know no such flag and make every
    // memfd executable.
    let fd = match rustix::fs::memfd_create(name, flags | MemfdFlags::EXEC) {
        Err(rustix::io::Errno::INVAL) => rustix::fs::memfd_create(name, flags)?,
        other => other?,
    };
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    rustix::fs::fcntl_add_seals(
        &file,
        SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
    )?;
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    if !path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "/proc is not mounted, so the memfd has no path to load it by",
        ));
    }
    // Kept open on purpose; see above.
    let _ = file.into_raw_fd();
    Ok(path)
}

/// `bytes` in a new temporary file only this user may write.
fn private_file(name: &str, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(".pinned-")
        .suffix(&format!("-{name}"))
        .tempfile()?;
    file.write_all(bytes)?;
    file.flush()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loader_gets_the_checked_bytes_whatever_happens_to_the_file_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("libpinned.so");
        std::fs::write(&file, b"the pinned bytes").expect("write");
        let pinned = Pinned::read(&file, &sha256_hex(b"the pinned bytes")).expect("pin matches");

        // Swapped in place and by rename once the pin was checked.
        std::fs::write(&file, b"other bytes, in place").expect("overwrite");
        let swapped = dir.path().join("swapped.so");
        std::fs::write(&swapped, b"other bytes, renamed over").expect("write");
        std::fs::rename(&swapped, &file).expect("rename");

        assert_ne!(pinned.path(), file);
        assert_eq!(
            std::fs::read(pinned.path()).expect("read what the loader opens"),
            b"the pinned bytes"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_checked_bytes_are_sealed_against_writes() {
        let path = sealed_memfd("libsealed.so", b"sealed").expect("memfd");
        assert!(path.starts_with("/proc/self/fd"), "{}", path.display());
        let written = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"changed"));
        assert!(written.is_err(), "a sealed memfd took a write");
        assert_eq!(std::fs::read(&path).expect("read"), b"sealed");
    }

    #[test]
    fn the_fallback_file_is_private_and_holds_the_bytes() {
        let file = private_file("libfallback.so", b"fallback").expect("temporary file");
        assert_eq!(std::fs::read(file.path()).expect("read"), b"fallback");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = file
                .as_file()
                .metadata()
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o} lets others in");
        }
    }

    #[test]
    fn a_pin_mismatch_names_both_digests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("libpinned.so");
        std::fs::write(&file, b"bytes").expect("write");
        let Err(err) = Pinned::read(&file, &"0".repeat(64)) else {
            panic!("a library that differs from its pin was accepted");
        };
        let message = err.to_string();
        assert!(message.contains(&sha256_hex(b"bytes")), "{message}");
        assert!(message.contains(&"0".repeat(64)), "{message}");
    }
}
