//! Which top-level modules of a crate import which: read from the sources,
//! so tests can hold every crate free of module cycles and the server to its
//! layers.
//!
//! A module's imports are the `crate::…`, `$crate::…` and `super::…` paths
//! its files use, outside comments and string literals, resolved to the
//! top-level module they reach: a module named directly, or the module an
//! item re-exported by the crate root comes from (`crate::AuthError` reaches
//! whatever module `lib.rs` took it from). Items the crate root defines
//! itself belong to no module and add no edge. A glob import of the crate
//! root (`use crate::*`, or `use super::*` from a top-level module) and an
//! alias of it (`use crate as …`) would hide what is imported, so they are
//! refused. That is what `use` and qualified paths both say, and it needs
//! no compiler.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, bail};

/// Top-level module name to the other top-level modules it imports.
pub(crate) type Graph = BTreeMap<String, BTreeSet<String>>;

/// The import graph of the crate whose sources are in `src`.
pub(crate) fn crate_graph(src: &Path) -> anyhow::Result<Graph> {
    let mut files = Vec::new();
    collect_rust_files(src, &mut files)?;
    let mut texts = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap_or(&file).to_owned();
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        texts.push((relative, text));
    }
    // Files a `#[path = "…"]` attribute mounts somewhere else.
    let mut mounted = BTreeMap::new();
    for (relative, text) in &texts {
        for (file, name) in path_attributes(&strip_comments(text)) {
            let dir = relative.parent().unwrap_or(Path::new(""));
            let mut module = module_path(relative);
            module.push(name);
            mounted.insert(dir.join(file), module);
        }
    }
    let sources: Vec<(Vec<String>, &Path, String)> = texts
        .iter()
        .map(|(relative, text)| {
            let path = mounted
                .get(relative)
                .cloned()
                .unwrap_or_else(|| module_path(relative));
            (path, relative.as_path(), strip_comments_and_strings(text))
        })
        .collect();
    let modules: BTreeSet<String> = sources
        .iter()
        .filter_map(|(path, _, _)| path.first().cloned())
        .collect();
    let mut exports = BTreeMap::new();
    for (path, relative, code) in &sources {
        if path.is_empty() {
            if find_word(code, "crate as").is_some() || code.contains("crate self as") {
                bail!(
                    "{}: an alias of the crate root hides which modules its users import; name them",
                    src.join(relative).display()
                );
            }
            let (names, glob) = root_imports(code, &modules);
            if let Some(module) = glob {
                bail!(
                    "{}: `use {module}::*` at the crate root hides which module a name comes from; name them",
                    src.join(relative).display()
                );
            }
            exports.extend(names);
        }
    }
    let resolver = Resolver { modules, exports };
    let mut graph = Graph::new();
    for (path, relative, code) in &sources {
        let Some(own) = path.first() else {
            continue; // lib.rs and main.rs declare the modules.
        };
        let imports = graph.entry(own.clone()).or_default();
        for target in resolver.references(path, code) {
            match target {
                Target::Module(target) if &target != own => {
                    imports.insert(target);
                }
                Target::Module(_) => {}
                // The crate's own tests may take everything the root has:
                // nothing imports them, so they close no cycle.
                Target::Hidden(_) if own == "tests" => {}
                Target::Hidden(what) => bail!(
                    "{}: {what} hides which modules it imports; name them",
                    src.join(relative).display()
                ),
            }
        }
    }
    Ok(graph)
}

fn collect_rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rust_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The module a file defines, as path segments from the crate root:
/// `app/mod.rs` and `app.rs` are `[app]`, `app/auth.rs` is `[app, auth]`,
/// `lib.rs` and `main.rs` are the root, `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        let is_root = parts.is_empty() && matches!(stem, "lib" | "main");
        if stem != "mod" && !is_root {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// Each `#[path = "file.rs"] mod name;` in `text`: the file and the name.
fn path_attributes(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[path") {
        rest = &rest[at + 6..];
        let Some(open) = rest.find('"') else {
            break;
        };
        let Some(close) = rest[open + 1..].find('"') else {
            break;
        };
        let file = rest[open + 1..open + 1 + close].to_owned();
        rest = &rest[open + 1 + close..];
        if let Some(at) = find_word(rest, "mod") {
            let name = first_segment(rest[at + 3..].trim_start());
            if !name.is_empty() {
                found.push((file, name.to_owned()));
            }
        }
    }
    found
}

/// The names the crate root brings in with `use` from its own modules
/// (`pub use jwks::{JwksError, KeySet};` or a private `use pool::Pool;`),
/// each with the module it comes from.
/// Also the first local module it glob-imports (`use web::*;`), if any.
fn root_imports(
    code: &str,
    modules: &BTreeSet<String>,
) -> (BTreeMap<String, String>, Option<String>) {
    let mut found = BTreeMap::new();
    let mut glob = None;
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        let after = &rest[at + 3..];
        let Some(end) = after.find(';') else {
            break;
        };
        let tree = after[..end].trim();
        let tree = tree
            .strip_prefix("crate::")
            .or_else(|| tree.strip_prefix("self::"))
            .unwrap_or(tree);
        // `use {a::X, b::Y}` (after `crate::` or `self::`): each item names
        // its own module.
        let trees: Vec<&str> = match tree.strip_prefix('{') {
            Some(group) => split_top_level(&group[..matching_brace(group)]),
            None => vec![tree],
        };
        for tree in trees {
            let tree = tree.trim();
            let module = first_segment(tree);
            if !modules.contains(module) {
                continue;
            }
            if tree.ends_with('*') {
                glob.get_or_insert_with(|| module.to_owned());
            }
            for name in leaf_names(tree) {
                found.insert(name, module.to_owned());
            }
        }
        rest = &after[end..];
    }
    (found, glob)
}

/// Where `word` next stands on its own (not inside a longer identifier).
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut offset = 0;
    while let Some(at) = text[offset..].find(word) {
        let start = offset + at;
        let end = start + word.len();
        let before = text[..start].chars().next_back().is_some_and(is_ident);
        let after = text[end..].chars().next().is_some_and(is_ident);
        if !before && !after {
            return Some(start);
        }
        offset = end;
    }
    None
}

/// The names a use tree binds: each leaf's last segment or its alias
/// (`a::{b, c::d as e, f::{self}}` binds `b`, `e` and `f`).
fn leaf_names(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let inner = &tree[open + 1..];
        let inner = &inner[..matching_brace(inner)];
        let prefix = tree[..open].trim_end_matches("::");
        return split_top_level(inner)
            .into_iter()
            .flat_map(|item| {
                if item.trim() == "self" {
                    vec![last_segment(prefix).to_owned()]
                } else {
                    leaf_names(item)
                }
            })
            .collect();
    }
    if let Some((_, alias)) = tree.split_once(" as ") {
        return vec![alias.trim().to_owned()];
    }
    let name = last_segment(tree);
    if name.is_empty() || name == "*" {
        Vec::new()
    } else {
        vec![name.to_owned()]
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or("").trim()
}

/// The comma-separated items of a group, not splitting nested groups.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&group[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .collect()
}

/// Source text with comments and the contents of string and character
/// literals blanked out, so a path in a doc comment or a message is not an
/// import.
fn strip_comments_and_strings(text: &str) -> String {
    strip(text, false)
}

/// `text` without its comments, strings kept whole (for attributes, whose
/// arguments are strings).
fn strip_comments(text: &str) -> String {
    strip(text, true)
}

fn strip(text: &str, keep_strings: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(text.len(), |n| i + n);
            i = end;
        } else if rest.starts_with("/*") {
            i += block_comment_length(rest);
        } else if let Some(hashes) = raw_string_start(rest) {
            let closing = format!("\"{}", "#".repeat(hashes));
            let body = i + hashes + 2;
            let end = text[body..]
                .find(&closing)
                .map_or(text.len(), |n| body + n + closing.len());
            out.push_str(if keep_strings { &text[i..end] } else { "\"\"" });
            i = end;
        } else if let Some(length) = char_literal_length(rest) {
            i += length;
            out.push_str("' '");
        } else if bytes[i] == b'"' {
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(text.len());
            out.push_str(if keep_strings {
                &text[start..i]
            } else {
                "\"\""
            });
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of the character literal at the start of `text` (`'x'`,
/// `'\n'`, `'\u{1F600}'`), if one starts there rather than a lifetime.
fn char_literal_length(text: &str) -> Option<usize> {
    let after = text.strip_prefix('\'')?;
    if let Some(escaped) = after.strip_prefix('\\') {
        let close = escaped.get(1..)?.find('\'')?;
        return Some(1 + 1 + 1 + close + 1);
    }
    let c = after.chars().next()?;
    after[c.len_utf8()..]
        .starts_with('\'')
        .then(|| 1 + c.len_utf8() + 1)
}

/// The length of the block comment at the start of `text`, nested ones
/// included, as Rust counts them.
fn block_comment_length(text: &str) -> usize {
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with("/*") {
            depth += 1;
            i += 2;
        } else if text[i..].starts_with("*/") {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    text.len()
}

/// `r"`, `r#"`, … at the start of `text`: the number of `#`s.
fn raw_string_start(text: &str) -> Option<usize> {
    let after = text.strip_prefix('r')?;
    let hashes = after.bytes().take_while(|b| *b == b'#').count();
    after[hashes..].starts_with('"').then_some(hashes)
}

/// What a path reaches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A top-level module.
    Module(String),
    /// Something a glob or an alias of the crate root would hide.
    Hidden(&'static str),
}

/// Resolves paths to the top-level modules they reach.
struct Resolver {
    modules: BTreeSet<String>,
    /// Names the crate root imports, and the module each comes from.
    exports: BTreeMap<String, String>,
}

impl Resolver {
    /// What the `crate::…`, `$crate::…` and `super::…` paths in `code` (from
    /// the module at `path`) reach, each name of a `crate::{a, b::c}` group
    /// included. A path inside an inline `mod x { … }` starts one level
    /// deeper.
    fn references(&self, path: &[String], code: &str) -> BTreeSet<Target> {
        let inline = inline_modules(code);
        let mut found = BTreeSet::new();
        let is_ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let mut offset = 0;
        while let Some(at) = code[offset..].find(['c', 's']) {
            let start = offset + at;
            offset = start + 1;
            let before = &code[..start];
            if before.chars().next_back().is_some_and(is_ident_char) || before.ends_with("::") {
                continue;
            }
            let tail = &code[start..];
            let depth_here = path.len() + inline.iter().filter(|r| r.contains(&start)).count();
            let (depth, after) = if let Some(after) = tail.strip_prefix("crate::") {
                (depth_here, after)
            } else if tail.starts_with("crate as ") {
                found.insert(Target::Hidden("an alias of the crate root"));
                continue;
            } else {
                let mut supers = 0;
                let mut after = tail;
                while let Some(next) = after.strip_prefix("super::") {
                    supers += 1;
                    after = next;
                }
                if supers == 0 {
                    continue;
                }
                (supers, after)
            };
            // `depth` segments up from here lands at the root when it takes
            // off every segment the module path has.
            let at_root = depth >= depth_here;
            let names: Vec<&str> = if let Some(group) = after.strip_prefix('{') {
                split_top_level(&group[..matching_brace(group)])
                    .into_iter()
                    .map(|item| match item.trim() {
                        "*" => "*",
                        item if item == "self" || item.starts_with("self as") => "self",
                        item => first_segment(item),
                    })
                    .collect()
            } else if after.starts_with('*') {
                vec!["*"]
            } else {
                vec![first_segment(after)]
            };
            for name in names {
                if !at_root {
                    // Inside the module itself: no edge, unless it is a
                    // top-level module reached from below.
                    if let Some(own) = path.first() {
                        found.insert(Target::Module(own.clone()));
                    }
                    continue;
                }
                if name == "*" {
                    found.insert(Target::Hidden("a glob import of the crate root"));
                } else if name == "self" {
                    found.insert(Target::Hidden("an alias of the crate root"));
                } else if self.modules.contains(name) {
                    found.insert(Target::Module(name.to_owned()));
                } else if let Some(module) = self.exports.get(name) {
                    found.insert(Target::Module(module.clone()));
                }
            }
        }
        found
    }
}

/// The byte ranges of the bodies of the inline modules (`mod x { … }`) in
/// `code`.
fn inline_modules(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    while let Some(at) = find_word(&code[offset..], "mod") {
        let start = offset + at + 3;
        offset = start;
        let rest = &code[start..];
        let name_end = rest
            .trim_start()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map(|n| n + (rest.len() - rest.trim_start().len()));
        let Some(name_end) = name_end else {
            continue;
        };
        let after_name = rest[name_end..].trim_start();
        if let Some(body) = after_name.strip_prefix('{') {
            let body_start = code.len() - body.len();
            ranges.push(body_start..body_start + matching_brace(body));
        }
    }
    ranges
}

/// Where the group that `text` opens (just after its `{`) closes.
fn matching_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return index,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn first_segment(path: &str) -> &str {
    path.trim()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("")
}

/// A cycle in `graph`, as the modules around it, if there is one.
pub(crate) fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Visiting);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

/// The server's layers, bottom first; a module may import only modules of
/// lower layers. `lib.rs` documents the same order.
pub(crate) const SERVER_LAYERS: &[&[&str]] = &[
    &["settings"],
    &["shared", "telemetry"],
    &["identity"],
    &["audit", "policies"],
    &["catalogue"],
    &["web"],
    &["rest", "mcp", "oauth", "console"],
    &["app"],
    &["cli"],
];

/// Every import in `graph` that goes sideways or up the `layers`, and every
/// module that is in no layer, as readable lines.
pub(crate) fn layer_violations(graph: &Graph, layers: &[&[&str]]) -> Vec<String> {
    let layer_of = |module: &str| layers.iter().position(|layer| layer.contains(&module));
    let mut problems = Vec::new();
    for (module, imports) in graph {
        let Some(own) = layer_of(module) else {
            problems.push(format!(
                "`{module}` is in no layer; add it to SERVER_LAYERS"
            ));
            continue;
        };
        for import in imports {
            match layer_of(import) {
                Some(layer) if layer < own => {}
                Some(_) => problems.push(format!(
                    "`{module}` imports `{import}`, which is not in a lower layer"
                )),
                None => problems.push(format!(
                    "`{import}` is in no layer; add it to SERVER_LAYERS"
                )),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(from, to)| {
                (
                    (*from).to_owned(),
                    to.iter().map(|t| (*t).to_owned()).collect(),
                )
            })
            .collect()
    }

    fn crates() -> Vec<std::path::PathBuf> {
        let root = crate::root();
        let mut dirs = Vec::new();
        for group in ["crates", "plugins"] {
            for entry in std::fs::read_dir(root.join(group)).expect("crate directory") {
                let src = entry.expect("entry").path().join("src");
                if src.is_dir() {
                    dirs.push(src);
                }
            }
        }
        dirs.push(root.join("xtask/src"));
        dirs.push(root.join("tests/e2e/src"));
        dirs
    }

    #[test]
    fn no_crate_has_modules_that_import_each_other_in_a_cycle() {
        for src in crates() {
            let graph = crate_graph(&src).expect("sources");
            assert_eq!(
                find_cycle(&graph),
                None,
                "{}: these modules import each other in a cycle",
                src.display()
            );
        }
    }

    #[test]
    fn the_server_modules_import_only_lower_layers() {
        let graph = crate_graph(&crate::root().join("crates/server/src")).expect("sources");
        assert!(graph.len() >= 10, "the scan found the modules: {graph:?}");
        let problems = layer_violations(&graph, SERVER_LAYERS);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn a_cycle_is_found_and_named() {
        let cyclic = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(
            find_cycle(&cyclic),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        let layered = graph(&[("a", &["b", "c"]), ("b", &["c"]), ("c", &[])]);
        assert_eq!(find_cycle(&layered), None);
    }

    #[test]
    fn imports_upwards_or_sideways_break_the_layers() {
        let layers: &[&[&str]] = &[&["low"], &["left", "right"], &["top"]];
        let ok = graph(&[("top", &["left", "low"]), ("left", &["low"]), ("low", &[])]);
        assert!(layer_violations(&ok, layers).is_empty());
        let bad = graph(&[("low", &["top"]), ("left", &["right"]), ("stray", &[])]);
        assert_eq!(
            layer_violations(&bad, layers),
            [
                "`left` imports `right`, which is not in a lower layer",
                "`low` imports `top`, which is not in a lower layer",
                "`stray` is in no layer; add it to SERVER_LAYERS",
            ]
        );
    }

    /// A crate in a temporary directory: `files` as (path under src, text).
    fn sandboxed(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("dirs");
            std::fs::write(file, text).expect("write");
        }
        dir
    }

    fn edges(graph: &Graph, module: &str) -> Vec<String> {
        graph.get(module).into_iter().flatten().cloned().collect()
    }

    #[test]
    fn paths_are_resolved_to_the_top_level_module_they_reach() {
        let dir = sandboxed(&[
            (
                "lib.rs",
                "mod app; mod audit; mod catalogue; mod settings; mod web;\n\
                 #[path = \"elsewhere/store.rs\"]\nmod db;\n\
                 // #[path = \"nowhere.rs\"] mod commented_out;\n\
                 pub use app::{App, Server as Running};\nuse audit::Log;\n\
                 pub use self::{settings::Grouped};\n",
            ),
            (
                "app/mod.rs",
                "mod auth;\n#[macro_export]\nmacro_rules! make { () => { $crate::catalogue::X } }\n",
            ),
            (
                "app/auth.rs",
                "use super::AppState;\nuse crate::{catalogue::Caller, web::{ApiError, read}};\n\
                 // crate::settings in a comment\nlet s = \"crate::settings in a string\";\n\
                 let r = r#\"crate::settings\"#; let q = '\"'; let e = '\\\\';\n\
                 /* outer /* inner \" */ crate::settings */\n\
                 fn g<'a>(x: &'a str) -> crate::Log { todo!() }\n\
                 mycrate::ignored::x; notsuper::y;",
            ),
            (
                "web.rs",
                "fn f() -> crate::Running { todo!() }\nfn g() -> crate::Grouped { todo!() }\n",
            ),
            ("elsewhere/store.rs", "use crate::settings::Settings;\n"),
            ("audit.rs", "pub struct Log;\n"),
            (
                "catalogue/mod.rs",
                "#[path = \"catalogue_tests.rs\"]\nmod tests;\nmod inline { use super::*; }\n",
            ),
            ("catalogue/catalogue_tests.rs", "use super::*;\n"),
            ("settings.rs", "pub struct Settings;\n"),
        ]);
        let graph = crate_graph(dir.path()).expect("graph");
        assert_eq!(edges(&graph, "app"), ["audit", "catalogue", "web"]);
        assert_eq!(
            edges(&graph, "web"),
            ["app", "settings"],
            "through the root's re-exports"
        );
        assert_eq!(edges(&graph, "db"), ["settings"], "mounted by #[path]");
        assert!(!graph.contains_key("elsewhere"), "{graph:?}");
        assert_eq!(edges(&graph, "catalogue"), Vec::<String>::new());
        assert_eq!(edges(&graph, "settings"), Vec::<String>::new());
    }

    #[test]
    fn globs_and_aliases_of_the_crate_root_are_refused() {
        for (file, text) in [
            ("identity.rs", "use super::*;\n"),
            ("identity.rs", "use crate::*;\n"),
            ("identity.rs", "use crate::{app, *};\n"),
            ("identity.rs", "use super::{*};\n"),
            ("identity.rs", "use crate::{self as root};\n"),
            (
                "identity.rs",
                "use crate as root;\nfn f() { root::app::x() }\n",
            ),
        ] {
            let dir = sandboxed(&[
                ("lib.rs", "mod identity; mod app;\n"),
                ("app.rs", ""),
                (file, text),
            ]);
            let err = crate_graph(dir.path()).expect_err("refused").to_string();
            assert!(
                err.contains("hides which modules it imports"),
                "{text}: {err}"
            );
        }
        for root in [
            "mod identity; mod app;\nextern crate self as root;\n",
            "mod identity; mod app;\nuse crate as root;\n",
            "mod identity; mod app;\npub use app::*;\n",
        ] {
            let dir = sandboxed(&[("lib.rs", root), ("app.rs", ""), ("identity.rs", "")]);
            let err = crate_graph(dir.path()).expect_err("refused").to_string();
            assert!(err.contains("hides which module"), "{root}: {err}");
        }
        // The crate's own test module may glob the root.
        let dir = sandboxed(&[("lib.rs", "mod tests;\n"), ("tests.rs", "use super::*;\n")]);
        crate_graph(dir.path()).expect("a test module may");
    }

    #[test]
    fn files_map_to_their_modules() {
        assert_eq!(module_path(Path::new("lib.rs")), Vec::<String>::new());
        assert_eq!(module_path(Path::new("app/mod.rs")), ["app"]);
        assert_eq!(module_path(Path::new("rest.rs")), ["rest"]);
        assert_eq!(module_path(Path::new("app/auth.rs")), ["app", "auth"]);
    }
}
