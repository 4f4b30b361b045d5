//! Exports the plugin entry point with a vtable whose ABI version is 9999.
//!
//! The host must read the version, refuse the library, and never touch the
//! rest of the table: here the rest is deliberately absent.

#![expect(unsafe_code, reason = "exports an entry point with a foreign ABI version")]

/// Only the version field: a host that read further would read garbage.
#[repr(C)]
pub struct VersionOnly {
    /// The ABI version this "plugin" claims.
    pub abi_version: u32,
}

static VTABLE: VersionOnly = VersionOnly { abi_version: 9999 };

/// The entry point the host looks up.
#[unsafe(no_mangle)]
pub extern "C" fn orchestrator_plugin_entry() -> *const VersionOnly {
    &VTABLE
}
