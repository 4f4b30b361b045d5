//! Embeds every rule file under `rules/<language>/` in the plugin, so the
//! rules travel with the library and are loaded (and checked) when the
//! host loads it.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    let languages = std::fs::read_dir(&root).map(Iterator::flatten);
    for language in languages.into_iter().flatten() {
        let path = language.path();
        if !path.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        for file in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            let file = file.path();
            if file.extension().is_some_and(|ext| ext == "yml") {
                files.push(file);
            }
        }
    }
    files.sort();
    let mut index = String::from("/// Every rule file: its path under `rules/`, and its text.\n");
    index.push_str("pub(crate) static RULE_FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            index,
            "    ({relative:?}, include_str!({:?})),",
            file.display().to_string()
        );
    }
    index.push_str("];\n");
    let out = std::env::var("OUT_DIR").unwrap_or_default();
    if let Err(err) = std::fs::write(Path::new(&out).join("rule_files.rs"), index) {
        panic!("cannot write the rule index: {err}");
    }
}
