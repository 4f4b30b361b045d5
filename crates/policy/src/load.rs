//! Reading a policy directory into a validated Cedar policy set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use sha2::{Digest, Sha256};

use crate::PolicyError;
use crate::error::CedarDiagnostic;

/// The name of the schema file inside a policy directory.
pub(crate) const SCHEMA_FILE: &str = "schema.cedarschema";

/// A parsed, validated policy set and where each policy came from.
#[derive(Clone)]
pub(crate) struct LoadedPolicies {
    pub(crate) schema: Schema,
    pub(crate) policies: PolicySet,
    /// Policy `@id` to the file that defines it.
    pub(crate) files: BTreeMap<String, PathBuf>,
    /// Policy `@id` to the line of its `@id` annotation.
    pub(crate) lines: BTreeMap<String, usize>,
    pub(crate) hash: String,
    /// Each file as it was read, by name (`schema.cedarschema` first, then
    /// the policy files in order).
    pub(crate) texts: Vec<(String, String)>,
    /// The argument fields the schema lets policies see.
    pub(crate) arguments: crate::context::DeclaredArguments,
    /// The policies marked `@mode("shadow")`: validated with the rest, but
    /// not in `policies` (see [`split_shadow`]).
    pub(crate) shadow: PolicySet,
}

/// The annotation that marks a policy as shadow, and its one value.
const MODE: &str = "mode";
const SHADOW: &str = "shadow";

/// Moves the `@mode("shadow")` policies out of `loaded.policies` into
/// `loaded.shadow`; any other `@mode` is refused, naming the policy.
fn split_shadow(loaded: &mut LoadedPolicies) -> Result<(), PolicyError> {
    let mut enforced = PolicySet::new();
    let mut shadow = PolicySet::new();
    for policy in loaded.policies.policies() {
        let id = policy.id().to_string();
        let target = match policy.annotation(MODE).map(str::trim) {
            None => &mut enforced,
            Some(SHADOW) => &mut shadow,
            Some(other) => {
                return Err(PolicyError::Syntax {
                    file: loaded.files.get(&id).cloned().unwrap_or_default(),
                    line: loaded.lines.get(&id).copied(),
                    column: None,
                    message: format!(
                        "policy `{id}` has @mode(\"{other}\"); the only mode is \"shadow\" (evaluated beside the enforced policies, never deciding); remove @mode to enforce it"
                    ),
                    cause: None,
                });
            }
        };
        target
            .add(policy.clone())
            .map_err(|err| PolicyError::Syntax {
                file: loaded.files.get(&id).cloned().unwrap_or_default(),
                line: None,
                column: None,
                message: err.to_string(),
                cause: Some(CedarDiagnostic::new(err)),
            })?;
    }
    loaded.policies = enforced;
    loaded.shadow = shadow;
    Ok(())
}

pub(crate) fn load_dir(dir: &Path) -> Result<LoadedPolicies, PolicyError> {
    let schema_path = dir.join(SCHEMA_FILE);
    let schema_text = read(&schema_path)?;
    let schema = parse_schema(&schema_path, &schema_text)?;

    let mut policy_files = policy_files(dir)?;
    policy_files.sort();
    if policy_files.is_empty() {
        return Err(PolicyError::NoPolicies {
            dir: dir.to_owned(),
        });
    }

    let mut hasher = Sha256::new();
    hash_file(&mut hasher, SCHEMA_FILE, &schema_text);

    let mut policies = PolicySet::new();
    let mut files = BTreeMap::new();
    let mut lines = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for file in &policy_files {
        let text = read(file)?;
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        hash_file(&mut hasher, name.as_deref().unwrap_or_default(), &text);
        add_file(file, &text, &mut policies, &mut files, &mut lines)?;
        sources.insert(file.clone(), text);
    }

    validate(&schema, &policies, &files, &sources)?;
    let file_name = |path: &Path| {
        path.file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
    };
    let texts = std::iter::once((SCHEMA_FILE.to_owned(), schema_text.clone()))
        .chain(
            sources
                .iter()
                .map(|(path, text)| (file_name(path), text.clone())),
        )
        .collect();
    let arguments = crate::context::DeclaredArguments::read(&schema_text)
        .map_err(|message| PolicyError::schema(&schema_path, message))?;

    let mut loaded = LoadedPolicies {
        schema,
        policies,
        files,
        lines,
        hash: format!("sha256:{}", hex(&hasher.finalize())),
        texts,
        arguments,
        shadow: PolicySet::new(),
    };
    split_shadow(&mut loaded)?;
    Ok(loaded)
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        path: path.to_owned(),
        source,
    })
}

fn policy_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| PolicyError::Io {
        path: dir.to_owned(),
        source,
    })?;
    Ok(entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "cedar"))
        .collect())
}

fn parse_schema(file: &Path, text: &str) -> Result<Schema, PolicyError> {
    match Schema::from_cedarschema_str(text) {
        Ok((schema, _warnings)) => Ok(schema),
        Err(err) => {
            let (line, column) = first_label(&err, text);
            Err(PolicyError::Schema {
                file: file.to_owned(),
                line,
                column,
                message: diagnostic_message(&err),
                cause: Some(CedarDiagnostic::new(err)),
            })
        }
    }
}

/// Parses one file and adds its policies under their `@id`s.
fn add_file(
    file: &Path,
    text: &str,
    policies: &mut PolicySet,
    files: &mut BTreeMap<String, PathBuf>,
    lines: &mut BTreeMap<String, usize>,
) -> Result<(), PolicyError> {
    let id_lines = id_lines(text);
    let mut seen_here: BTreeMap<String, usize> = BTreeMap::new();
    let parsed = PolicySet::from_str(text).map_err(|err| {
        let (line, column) = first_label(&err, text);
        PolicyError::Syntax {
            file: file.to_owned(),
            line,
            column,
            message: diagnostic_message(&err),
            cause: Some(CedarDiagnostic::new(err)),
        }
    })?;
    if parsed.templates().next().is_some() {
        return Err(PolicyError::Template {
            file: file.to_owned(),
        });
    }
    // Cedar numbers policies in source order (policy0, policy1, …); sort by
    // that number so error messages can say which policy in the file.
    let mut in_order: Vec<_> = parsed.policies().collect();
    in_order.sort_by_key(|policy| {
        policy
            .id()
            .to_string()
            .trim_start_matches("policy")
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    for (index, policy) in in_order.into_iter().enumerate() {
        let id = policy
            .annotation("id")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| PolicyError::MissingId {
                file: file.to_owned(),
                index: index + 1,
            })?
            .to_owned();
        let occurrence = seen_here.entry(id.clone()).or_insert(0);
        let line = id_lines
            .iter()
            .filter(|(found, _)| *found == id)
            .nth(*occurrence)
            .map(|(_, line)| *line);
        *occurrence += 1;
        if let Some(first_file) = files.get(&id) {
            return Err(PolicyError::DuplicateId {
                file: file.to_owned(),
                line,
                id: id.clone(),
                first_file: first_file.clone(),
                first_line: lines.get(&id).copied(),
            });
        }
        if let Some(line) = line {
            lines.insert(id.clone(), line);
        }
        policies
            .add(policy.new_id(PolicyId::new(&id)))
            .map_err(|err| PolicyError::Syntax {
                file: file.to_owned(),
                line: None,
                column: None,
                message: err.to_string(),
                cause: Some(CedarDiagnostic::new(err)),
            })?;
        files.insert(id, file.to_owned());
    }
    Ok(())
}

fn validate(
    schema: &Schema,
    policies: &PolicySet,
    files: &BTreeMap<String, PathBuf>,
    sources: &BTreeMap<PathBuf, String>,
) -> Result<(), PolicyError> {
    let result = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
    // A policy that can never apply is almost always a typo that strict
    // validation lets through (`principal has scope` where the attribute is
    // `scopes` is false for every request), so it is refused too.
    for warning in result.validation_warnings() {
        if let cedar_policy::ValidationWarning::ImpossiblePolicy(_) = warning {
            let policy = warning.policy_id().to_string();
            let file = files.get(&policy).cloned().unwrap_or_default();
            let text = sources.get(&file).map(String::as_str).unwrap_or_default();
            let (line, column) = first_label(warning, text);
            return Err(PolicyError::NeverApplies {
                file,
                policy,
                line,
                column,
            });
        }
    }
    let Some(error) = result.validation_errors().next() else {
        return Ok(());
    };
    let policy = error.policy_id().to_string();
    let file = files.get(&policy).cloned().unwrap_or_default();
    let text = sources.get(&file).map(String::as_str).unwrap_or_default();
    let (line, column) = first_label(error, text);
    Err(PolicyError::Validation {
        file,
        policy,
        line,
        column,
        message: diagnostic_message(error),
        cause: Some(CedarDiagnostic::new(error.clone())),
    })
}

/// Each `@id("…")` annotation in `text` with its 1-based line, in order.
///
/// Cedar keeps no source positions on parsed policies, so the annotations
/// are found in the text to point diagnostics at a line.
fn id_lines(text: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("@id") {
            rest = &rest[at + 3..];
            let quoted = rest
                .trim_start()
                .strip_prefix('(')
                .and_then(|after| after.trim_start().strip_prefix('"'));
            if let Some((id, _)) = quoted.and_then(|quoted| quoted.split_once('"')) {
                found.push((id.trim().to_owned(), index + 1));
            }
        }
    }
    found
}

/// The error's message followed by its help, if it has one.
fn diagnostic_message(err: &dyn miette::Diagnostic) -> String {
    match err.help() {
        Some(help) => format!("{err} (help: {help})"),
        None => err.to_string(),
    }
}

/// The 1-based line and column of the diagnostic's first label in `text`.
fn first_label(err: &dyn miette::Diagnostic, text: &str) -> (Option<usize>, Option<usize>) {
    let offset = err
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset())
        .or_else(|| {
            err.related()
                .and_then(|mut related| related.next())
                .and_then(|inner| inner.labels().and_then(|mut l| l.next()))
                .map(|label| label.offset())
        });
    match offset {
        Some(offset) => {
            let (line, column) = line_column(text, offset);
            (Some(line), Some(column))
        }
        None => (None, None),
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn hash_file(hasher: &mut Sha256, name: &str, text: &str) {
    // Length-prefixed so that moving text between files changes the hash.
    for part in [name, text] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_annotations_are_found_with_their_lines() {
        let text = "@id(\"a\")\npermit (principal, action, resource);\n\n@id ( \"b\" ) @scope(\"x\")\nforbid (principal, action, resource);\n";
        assert_eq!(id_lines(text), [("a".to_owned(), 1), ("b".to_owned(), 4)]);
    }

    #[test]
    fn line_column_counts_from_one() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 5), (2, 3));
        assert_eq!(line_column(text, 100), (3, 2));
    }
}
