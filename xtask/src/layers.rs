//! Which top-level modules of a crate import which: read from the sources,
//! so tests can hold every crate free of module cycles and the server to its
//! layers.
//!
//! A module's imports are the `crate::name` and `super::name` paths its files
//! use, outside comments and string literals, resolved to the top-level
//! module they reach. That is what `use` and qualified paths both say, and it
//! needs no compiler.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;

/// Top-level module name to the other top-level modules it imports.
pub(crate) type Graph = BTreeMap<String, BTreeSet<String>>;

/// The import graph of the crate whose sources are in `src`.
pub(crate) fn crate_graph(src: &Path) -> anyhow::Result<Graph> {
    let mut files = Vec::new();
    collect_rust_files(src, &mut files)?;
    let mut sources = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap_or(&file);
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        sources.push((module_path(relative), text));
    }
    let modules: BTreeSet<String> = sources
        .iter()
        .filter_map(|(path, _)| path.first().cloned())
        .collect();
    let mut graph = Graph::new();
    for (path, text) in &sources {
        let Some(own) = path.first() else {
            continue; // lib.rs and main.rs declare the modules; they import nothing.
        };
        let imports = graph.entry(own.clone()).or_default();
        for target in top_level_references(path, &strip_comments_and_strings(text)) {
            if &target != own && modules.contains(&target) {
                imports.insert(target);
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

/// Source text with comments and the contents of string and character
/// literals blanked out, so a path in a doc comment or a message is not an
/// import.
fn strip_comments_and_strings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(text.len(), |n| i + n);
            i = end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(text.len(), |n| i + n + 2);
            i = end;
        } else if let Some(hashes) = raw_string_start(rest) {
            let closing = format!("\"{}", "#".repeat(hashes));
            let body = i + hashes + 2;
            i = text[body..]
                .find(&closing)
                .map_or(text.len(), |n| body + n + closing.len());
            out.push_str("\"\"");
        } else if let Some(length) = char_literal_length(rest) {
            i += length;
            out.push_str("' '");
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
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

/// `r"`, `r#"`, … at the start of `text`: the number of `#`s.
fn raw_string_start(text: &str) -> Option<usize> {
    let after = text.strip_prefix('r')?;
    let hashes = after.bytes().take_while(|b| *b == b'#').count();
    after[hashes..].starts_with('"').then_some(hashes)
}

/// The top-level modules that `crate::…` and `super::…` paths in `code`
/// (from the module at `path`) reach, including each name in a
/// `crate::{a, b::c}` group.
fn top_level_references(path: &[String], code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let is_ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut rest = code;
    while let Some(at) = rest.find(['c', 's']) {
        let preceded =
            rest[..at].chars().next_back().is_some_and(is_ident_char) || rest[..at].ends_with("::");
        let tail = &rest[at..];
        let (depth, after) = if let Some(after) = tail.strip_prefix("crate::") {
            (Some(path.len()), after)
        } else {
            let mut supers = 0;
            let mut after = tail;
            while let Some(next) = after.strip_prefix("super::") {
                supers += 1;
                after = next;
            }
            ((supers > 0).then_some(supers), after)
        };
        rest = &tail[1..];
        let Some(depth) = depth.filter(|_| !preceded) else {
            continue;
        };
        // The path reached is `path` with `depth` segments taken off, then
        // what follows; a top-level module is named when that lands at the
        // root.
        let base = path.len().saturating_sub(depth);
        let names: Vec<&str> = if let Some(group) = after.strip_prefix('{') {
            let end = matching_brace(group);
            top_level_names(&group[..end])
        } else {
            vec![
                after
                    .split(|c: char| !is_ident_char(c))
                    .next()
                    .unwrap_or(""),
            ]
        };
        for name in names {
            let target = if base == 0 {
                Some(name)
            } else {
                path.first().map(String::as_str)
            };
            if let Some(target) = target.filter(|t| !t.is_empty()) {
                found.insert(target.to_owned());
            }
        }
    }
    found
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

/// The first segment of each path in a `use` group's contents.
fn top_level_names(group: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                names.push(first_segment(&group[start..index]));
                start = index + 1;
            }
            _ => {}
        }
    }
    names.push(first_segment(&group[start..]));
    names.into_iter().filter(|name| !name.is_empty()).collect()
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
    &["identity"],
    &["audit", "policies"],
    &["catalogue"],
    &["web"],
    &["rest", "mcp", "oauth"],
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

    #[test]
    fn paths_are_resolved_to_the_top_level_module_they_reach() {
        let app_auth = ["app".to_owned(), "auth".to_owned()];
        let code = strip_comments_and_strings(
            "use super::AppState;\nuse crate::{catalogue::Caller, web::{ApiError, read}};\n\
             // crate::cli in a comment\nlet s = \"crate::oauth in a string\";\n\
             let r = r#\"crate::mcp\"#; fn f() -> crate::settings::Config { todo!() }\n\
             mycrate::ignored::x; notsuper::y; let q = '\"'; let e = '\\\\';\n\
             fn g<'a>(x: &'a str) -> crate::audit::Log { todo!() }",
        );
        let found = top_level_references(&app_auth, &code);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["app", "audit", "catalogue", "settings", "web"]
        );
        // From a top-level file, `super` is the crate root.
        let rest = ["rest".to_owned()];
        let found = top_level_references(&rest, "use super::web::ApiError;");
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["web"]);
    }

    #[test]
    fn files_map_to_their_modules() {
        assert_eq!(module_path(Path::new("lib.rs")), Vec::<String>::new());
        assert_eq!(module_path(Path::new("app/mod.rs")), ["app"]);
        assert_eq!(module_path(Path::new("rest.rs")), ["rest"]);
        assert_eq!(module_path(Path::new("app/auth.rs")), ["app", "auth"]);
    }
}
