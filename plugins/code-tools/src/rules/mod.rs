//! Security and correctness rules as data: one YAML file per rule under
//! `rules/<language>/`, matched on syntax trees by ast-grep.
//!
//! A rule file holds two YAML documents. The first is an ast-grep rule
//! (`id`, `language`, `severity`, `message`, `note` for the rationale, `url`
//! for the documentation, `rule`, and optionally `constraints`, `utils` and
//! a `fix` rewrite), whose `metadata` says the CWE, the suggestion a person
//! acts on, and the ids the same check has in bandit, gosec or
//! eslint-plugin-security. The second holds its test snippets: `invalid`
//! code the rule must flag and `valid` code it must not.
//!
//! The files are compiled into the plugin (see `build.rs`) and read when
//! the plugin starts: a file whose YAML, keys or metadata are wrong stops
//! the plugin's load with the file and line named. A language's matchers
//! are compiled the first time code in it is reviewed, so a server that
//! never reviews Java holds no Java rules (compiled, the rules of all the
//! languages take tens of megabytes); a matcher that does not compile
//! fails that review, naming the file and line, and the tests compile
//! every rule. Rules under `javascript/` hold for TypeScript too.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use ast_grep_config::{CombinedScan, GlobalRules, RuleConfig, SerializableRuleConfig};
use ast_grep_core::tree_sitter::LanguageExt as _;
use ast_grep_language::SupportLang;
use regex::RegexSet;
use serde::Deserialize;

use crate::language::Language;
use crate::severity::Severity;

#[cfg(test)]
mod tests;

include!(concat!(env!("OUT_DIR"), "/rule_files.rs"));

/// The languages with a grammar (see [`Language::grammar`]), by the
/// directory their rules live in.
const GRAMMARS: &[(&str, Language)] = &[
    ("go", Language::Go),
    ("java", Language::Java),
    ("javascript", Language::JavaScript),
    ("python", Language::Python),
    ("ruby", Language::Ruby),
    ("rust", Language::Rust),
    ("typescript", Language::TypeScript),
];

/// The longest piece of matched code a finding quotes.
const MAX_QUOTED_CHARS: usize = 160;

/// What a rule says about what it finds, besides its matcher.
#[derive(Clone, Debug)]
pub(crate) struct RuleInfo {
    /// `python.subprocess-shell`.
    pub(crate) id: String,
    pub(crate) severity: Severity,
    /// `CWE-78`, where one applies.
    pub(crate) cwe: Option<String>,
    /// Why it matters.
    pub(crate) rationale: String,
    /// What is wrong (its metavariables filled in for each match).
    pub(crate) message: String,
    /// Where to read more.
    pub(crate) url: String,
    /// What to do about it.
    pub(crate) suggestion: String,
    /// The same check's ids in other analyzers (`B602`, `G204`), which a
    /// suppression comment may name instead of the rule's own id.
    pub(crate) aliases: Vec<String>,
    /// The language whose directory it lives in.
    pub(crate) language: Language,
}

/// A rule's test snippets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Snippets {
    /// Code the rule must flag.
    pub(crate) invalid: Vec<String>,
    /// Code the rule must not flag.
    pub(crate) valid: Vec<String>,
}

/// What the first document says for this plugin, beside what ast-grep reads.
#[derive(Deserialize)]
struct Described {
    id: String,
    message: String,
    note: Option<String>,
    url: Option<String>,
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    cwe: Option<String>,
    suggestion: Option<String>,
    #[serde(default)]
    bandit: Vec<String>,
    #[serde(default)]
    gosec: Vec<String>,
    #[serde(default)]
    eslint: Vec<String>,
    /// Words one of which any code the rule matches contains (a module, a
    /// function's name), so the rule is skipped for code without them.
    #[serde(default)]
    needs: Vec<String>,
}

/// One language with a grammar, and its rules once compiled.
pub(crate) struct Grammar {
    pub(crate) language: Language,
    lang: SupportLang,
    compiled: OnceLock<Result<Compiled, String>>,
}

/// The rules of one language, compiled.
struct Compiled {
    configs: Vec<RuleConfig<SupportLang>>,
    /// Each rule's `needs`, as indexes into `words`: a rule whose words
    /// all miss the code cannot match it and is not run.
    needs: Vec<Vec<usize>>,
    /// Every word some rule needs, and a set that finds them all in one
    /// pass over the code.
    words: Vec<String>,
    word_set: RegexSet,
}

/// Every rule, checked; each language's compiled when first needed.
pub(crate) struct Book {
    grammars: Vec<Grammar>,
    info: HashMap<String, RuleInfo>,
    /// The rule files (compiled into the plugin), read again to compile
    /// a language's rules.
    files: Vec<(&'static str, &'static str)>,
    /// Each rule's snippets, by id (checked at load, run by the tests).
    #[cfg(test)]
    pub(crate) snippets: Vec<(String, Language, Snippets)>,
}

/// One match of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) rule: String,
    /// 1-based lines and columns (columns count characters); the end is
    /// exclusive.
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) end_line: usize,
    pub(crate) end_column: usize,
    /// The matched code, shortened.
    pub(crate) code: String,
    /// The rule's message, with the match's metavariables filled in.
    pub(crate) message: String,
    /// The byte range and the text a safe rewrite replaces it with.
    pub(crate) rewrite: Option<(std::ops::Range<usize>, String)>,
}

static BOOK: LazyLock<Result<Book, String>> = LazyLock::new(|| Book::index(RULE_FILES));

/// Reads and checks every rule file, for the plugin's start: why they do
/// not load, naming the file and line.
pub(crate) fn check() -> Result<(), String> {
    book().map(drop).map_err(str::to_owned)
}

/// The rules, or why they do not load.
pub(crate) fn book() -> Result<&'static Book, &'static str> {
    BOOK.as_ref().map_err(String::as_str)
}

impl Book {
    /// Loads, checks and compiles every file: the first error names its
    /// file and line.
    #[cfg(test)]
    pub(crate) fn load(files: &[(&'static str, &'static str)]) -> Result<Self, String> {
        let book = Self::index(files)?;
        for grammar in &book.grammars {
            book.compiled(grammar)?;
        }
        Ok(book)
    }

    /// Loads and checks every file but compiles no matcher: each
    /// language's rules are compiled when first needed.
    fn index(files: &[(&'static str, &'static str)]) -> Result<Self, String> {
        let grammars: Vec<Grammar> = GRAMMARS
            .iter()
            .filter_map(|(_, language)| {
                Some(Grammar {
                    language: *language,
                    lang: language.grammar()?,
                    compiled: OnceLock::new(),
                })
            })
            .collect();
        let mut info = HashMap::new();
        #[cfg(test)]
        let mut snippets = Vec::new();
        let globals = GlobalRules::default();
        for (file, text) in files {
            let loaded = load_file(file, text, &globals, None)?;
            if info.contains_key(&loaded.info.id) {
                return Err(format!(
                    "rules/{file}: the rule id `{}` is used by another file too; ids are unique",
                    loaded.info.id
                ));
            }
            #[cfg(test)]
            snippets.push((loaded.info.id.clone(), loaded.language, loaded.snippets));
            info.insert(loaded.info.id.clone(), loaded.info);
        }
        Ok(Self {
            grammars,
            info,
            files: files.to_vec(),
            #[cfg(test)]
            snippets,
        })
    }

    /// Why `language`'s rules do not compile (naming the file and line),
    /// compiling them if they are not yet; `None` when they do, or when
    /// the language has no grammar.
    pub(crate) fn compile_error(&self, language: Language) -> Option<String> {
        self.compiled(self.grammar(language)?).err()
    }

    /// `grammar`'s rules, compiled the first time they are asked for.
    fn compiled<'a>(&'a self, grammar: &'a Grammar) -> Result<&'a Compiled, String> {
        grammar
            .compiled
            .get_or_init(|| compile_rules(&self.files, grammar.lang))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The rule `id`.
    pub(crate) fn rule(&self, id: &str) -> Option<&RuleInfo> {
        self.info.get(id)
    }

    /// Whether `name` is a rule's id or one of its aliases.
    pub(crate) fn knows(&self, name: &str) -> bool {
        self.info.contains_key(name)
            || self
                .info
                .values()
                .any(|info| info.aliases.iter().any(|alias| alias == name))
    }

    /// Every rule, ordered by id.
    pub(crate) fn rules(&self) -> Vec<&RuleInfo> {
        let mut rules: Vec<&RuleInfo> = self.info.values().collect();
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        rules
    }

    /// Whether `rule` holds for code in `language` (a JavaScript rule holds
    /// for TypeScript too).
    pub(crate) fn applies(&self, rule: &RuleInfo, language: Language) -> bool {
        rule.language == language
            || (rule.language == Language::JavaScript && language == Language::TypeScript)
    }

    /// The grammar and rules for `language`, if it has a grammar.
    pub(crate) fn grammar(&self, language: Language) -> Option<&Grammar> {
        self.grammars.iter().find(|g| g.language == language)
    }

    /// Each comment in `code` with the line it starts on, read from the
    /// syntax tree; `None` when `language` has no grammar.
    pub(crate) fn comments(&self, code: &str, language: Language) -> Option<Vec<(usize, String)>> {
        let grammar = self.grammar(language)?;
        let root = grammar.lang.ast_grep(code);
        let mut comments = Vec::new();
        // Depth-first without recursion: a deeply nested file must not
        // exhaust the stack.
        let mut pending = vec![root.root()];
        while let Some(node) = pending.pop() {
            if node.kind().ends_with("comment") {
                comments.push((node.start_pos().line() + 1, node.text().into_owned()));
                continue;
            }
            pending.extend(node.children());
        }
        comments.sort();
        Some(comments)
    }

    /// Every match of `language`'s rules in `code`, in source order; `None`
    /// when the language has no grammar (the text checks apply alone).
    /// Call [`Self::compile_error`] first: a language whose rules do not
    /// compile is scanned as one without a grammar.
    pub(crate) fn scan(&self, code: &str, language: Language) -> Option<Vec<Hit>> {
        let grammar = self.grammar(language)?;
        let rules = self.compiled(grammar).ok()?;
        let root = grammar.lang.ast_grep(code);
        let present = rules.word_set.matches(code);
        let runnable = rules
            .configs
            .iter()
            .zip(&rules.needs)
            .filter(|(_, needs)| {
                needs.is_empty() || needs.iter().any(|&word| present.matched(word))
            })
            .map(|(config, _)| config)
            .collect();
        let combined = CombinedScan::new(runnable);
        let result = combined.scan(&root, false);
        let mut hits = Vec::new();
        for (config, matches) in result.matches {
            for found in matches {
                let node = found.get_node();
                let (start, end) = (node.start_pos(), node.end_pos());
                let rewrite = config.fixer.first().map(|fixer| {
                    let edit = found.make_edit(&config.matcher, fixer);
                    let text = String::from_utf8_lossy(&edit.inserted_text).into_owned();
                    (edit.position..edit.position + edit.deleted_length, text)
                });
                hits.push(Hit {
                    rule: config.id.clone(),
                    line: start.line() + 1,
                    column: start.column(node) + 1,
                    end_line: end.line() + 1,
                    end_column: end.column(node) + 1,
                    code: quote(&node.text()),
                    message: config.get_message(&found),
                    rewrite,
                });
            }
        }
        hits.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
        Some(hits)
    }
}

/// Compiles the rules every file in `files` holds for `lang`, reading only
/// the files that do.
fn compile_rules(
    files: &[(&'static str, &'static str)],
    lang: SupportLang,
) -> Result<Compiled, String> {
    let globals = GlobalRules::default();
    let mut compiled = Compiled {
        configs: Vec::new(),
        needs: Vec::new(),
        words: Vec::new(),
        word_set: RegexSet::empty(),
    };
    for (file, text) in files.iter().filter(|(file, _)| holds_for(file, lang)) {
        let loaded = load_file(file, text, &globals, Some(lang))?;
        for config in loaded.configs {
            let needs = loaded
                .needs
                .iter()
                .map(|word| {
                    compiled
                        .words
                        .iter()
                        .position(|known| known == word)
                        .unwrap_or_else(|| {
                            compiled.words.push(word.clone());
                            compiled.words.len() - 1
                        })
                })
                .collect();
            compiled.configs.push(config);
            compiled.needs.push(needs);
        }
    }
    compiled.word_set = RegexSet::new(compiled.words.iter().map(|word| regex::escape(word)))
        .map_err(|err| format!("rules: the words rules need do not compile: {err}"))?;
    Ok(compiled)
}

/// Whether the rule file `file` (`<directory>/<name>.yml`) holds for the
/// grammar `lang`: its directory's language's, or TypeScript's for a
/// JavaScript rule. A file in no language's directory is read anyway, for
/// [`load_file`] to refuse.
fn holds_for(file: &str, lang: SupportLang) -> bool {
    let language = file
        .split_once('/')
        .and_then(|(directory, _)| GRAMMARS.iter().find(|(dir, _)| *dir == directory));
    match language {
        None => true,
        Some((_, language)) => {
            language.grammar() == Some(lang)
                || (*language == Language::JavaScript
                    && Language::TypeScript.grammar() == Some(lang))
        }
    }
}

/// The matched code on one line, shortened to [`MAX_QUOTED_CHARS`].
fn quote(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_QUOTED_CHARS {
        return flat;
    }
    let mut short: String = flat.chars().take(MAX_QUOTED_CHARS - 1).collect();
    short.push('…');
    short
}

struct Loaded {
    info: RuleInfo,
    needs: Vec<String>,
    #[cfg_attr(not(test), expect(dead_code, reason = "the tests run the snippets"))]
    language: Language,
    configs: Vec<RuleConfig<SupportLang>>,
    #[cfg_attr(not(test), expect(dead_code, reason = "the tests run the snippets"))]
    snippets: Snippets,
}

/// Reads and checks one rule file: its rule, compiled for `compile` when
/// that is a grammar it holds for (none when `None`), and its snippets.
fn load_file(
    file: &'static str,
    text: &str,
    globals: &GlobalRules,
    compile: Option<SupportLang>,
) -> Result<Loaded, String> {
    let at = |line: usize, message: &str| format!("rules/{file}:{line}: {message}");
    let (directory, stem) = file
        .split_once('/')
        .and_then(|(dir, name)| Some((dir, name.strip_suffix(".yml")?)))
        .ok_or_else(|| at(1, "a rule file is rules/<language>/<name>.yml"))?;
    let Some((language, lang)) = GRAMMARS
        .iter()
        .find(|(dir, _)| *dir == directory)
        .and_then(|(_, language)| Some((*language, language.grammar()?)))
    else {
        return Err(at(
            1,
            &format!(
                "`{directory}` is not a language with a grammar; rule directories are {}",
                GRAMMARS
                    .iter()
                    .map(|(dir, _)| *dir)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let (rule_text, snippet_text, snippet_line) = split_documents(text)
        .ok_or_else(|| at(1, "a rule file holds two YAML documents: the rule, then `---` and its `valid` and `invalid` snippets"))?;
    let yaml_error = |offset: usize, err: &serde_saphyr::Error| {
        let (line, message) = yaml_line_and_message(err);
        at(offset + line - 1, &message)
    };
    let described: Described =
        ast_grep_config::from_str(rule_text).map_err(|err| yaml_error(1, &err))?;
    let mut serialized: SerializableRuleConfig<SupportLang> =
        ast_grep_config::from_str(rule_text).map_err(|err| yaml_error(1, &err))?;
    if serialized.language == SupportLang::TypeScript && lang == SupportLang::Tsx {
        serialized.language = lang;
    }
    let line_of = |key: &str| {
        rule_text
            .lines()
            .position(|line| line.starts_with(&format!("{key}:")))
            .map_or(1, |index| index + 1)
    };
    let document: serde_json::Value =
        ast_grep_config::from_str(rule_text).map_err(|err| yaml_error(1, &err))?;
    if let Some(key) = unknown_rule_key(&document) {
        let line = rule_text
            .lines()
            .position(|line| line.contains(&format!("{key}:")))
            .map_or(1, |index| index + 1);
        return Err(at(
            line,
            &format!(
                "`{key}` is not a rule key (ast-grep would ignore it); rule keys are {}",
                RULE_KEYS.join(", ")
            ),
        ));
    }
    let expected_id = format!("{directory}.{stem}");
    if described.id != expected_id {
        return Err(at(
            line_of("id"),
            &format!(
                "the id is `{}`, but a rule's id is its directory and file name: `{expected_id}`",
                described.id
            ),
        ));
    }
    if serialized.language != lang {
        return Err(at(
            line_of("language"),
            &format!("a rule under rules/{directory}/ has `language: {directory}`"),
        ));
    }
    let severity = match serialized.severity {
        ast_grep_config::Severity::Error => Severity::Error,
        ast_grep_config::Severity::Warning => Severity::Warning,
        ast_grep_config::Severity::Info | ast_grep_config::Severity::Hint => Severity::Info,
        ast_grep_config::Severity::Off => {
            return Err(at(
                line_of("severity"),
                "severity `off` turns the rule off: delete the file instead, or say error, warning or info",
            ));
        }
    };
    let required = |value: Option<String>, key: &str, what: &str| {
        value
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| at(line_of(key), &format!("`{key}` is required: {what}")))
    };
    if described.message.trim().is_empty() {
        return Err(at(
            line_of("message"),
            "`message` is required: what is wrong",
        ));
    }
    let rationale = required(described.note, "note", "why it matters (the rationale)")?;
    let url = required(described.url, "url", "where to read more")?;
    let metadata = described.metadata.ok_or_else(|| {
        at(
            line_of("metadata"),
            "`metadata` is required, with `suggestion` (what to do) and `cwe` where one applies",
        )
    })?;
    let suggestion = required(metadata.suggestion, "metadata", "`suggestion`, what to do")?;
    if let Some(cwe) = &metadata.cwe
        && !cwe
            .strip_prefix("CWE-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(at(
            line_of("metadata"),
            &format!("`cwe: {cwe}` is not a CWE id: write it as CWE-78"),
        ));
    }
    let mut configs = Vec::new();
    if compile == Some(lang) {
        configs.push(build(serialized, globals).map_err(|err| at(line_of("rule"), &err))?);
    } else if language == Language::JavaScript && compile == Some(SupportLang::Tsx) {
        // A JavaScript rule holds for TypeScript too: compiled for its
        // grammar.
        serialized.language = SupportLang::Tsx;
        configs.push(build(serialized, globals).map_err(|err| at(line_of("rule"), &err))?);
    }
    let snippets: Snippets =
        ast_grep_config::from_str(snippet_text).map_err(|err| yaml_error(snippet_line, &err))?;
    if snippets.invalid.is_empty() || snippets.valid.is_empty() {
        return Err(at(
            snippet_line,
            "a rule has at least one `invalid` snippet it flags and one `valid` snippet it does not",
        ));
    }
    if let Some(blank) = metadata.needs.iter().find(|word| word.trim().is_empty()) {
        return Err(at(
            line_of("metadata"),
            &format!("`needs` holds `{blank}`: each is a word that code the rule matches contains"),
        ));
    }
    let mut aliases = metadata.bandit;
    aliases.extend(metadata.gosec);
    aliases.extend(metadata.eslint);
    Ok(Loaded {
        needs: metadata.needs,
        info: RuleInfo {
            id: expected_id,
            severity,
            cwe: metadata.cwe,
            rationale: rationale.trim().to_owned(),
            url,
            suggestion: suggestion.trim().to_owned(),
            aliases,
            language,
            message: described.message.trim().to_owned(),
        },
        language,
        configs,
        snippets,
    })
}

/// The keys a rule object may have: ast-grep reads a rule with any other
/// key as if the key were absent, which silently widens the rule.
const RULE_KEYS: &[&str] = &[
    "pattern",
    "kind",
    "regex",
    "nthChild",
    "range",
    "inside",
    "has",
    "precedes",
    "follows",
    "all",
    "any",
    "not",
    "matches",
    "stopBy",
    "field",
    "position",
    "ofRule",
    "reverse",
    "context",
    "selector",
    "strictness",
];

/// The first key in the rule, its utilities or its constraints that is not
/// a rule key.
fn unknown_rule_key(document: &serde_json::Value) -> Option<String> {
    let mut pending: Vec<&serde_json::Value> = Vec::new();
    pending.extend(document.get("rule"));
    for section in ["utils", "constraints"] {
        if let Some(serde_json::Value::Object(named)) = document.get(section) {
            pending.extend(named.values());
        }
    }
    while let Some(value) = pending.pop() {
        match value {
            serde_json::Value::Object(object) => {
                for (key, inner) in object {
                    if !RULE_KEYS.contains(&key.as_str()) {
                        return Some(key.clone());
                    }
                    // A pattern object's and a position's fields are not rules.
                    if !matches!(key.as_str(), "pattern" | "nthChild" | "range") {
                        pending.push(inner);
                    }
                }
            }
            serde_json::Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    None
}

fn build(
    serialized: SerializableRuleConfig<SupportLang>,
    globals: &GlobalRules,
) -> Result<RuleConfig<SupportLang>, String> {
    RuleConfig::try_from(serialized, globals).map_err(|err| {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        message
    })
}

/// The rule document, the snippet document, and the line the snippets
/// start on: the documents are split at a line that is `---`.
fn split_documents(text: &str) -> Option<(&str, &str, usize)> {
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" && offset > 0 {
            return Some((&text[..offset], &text[offset + line.len()..], index + 2));
        }
        offset += line.len();
    }
    None
}

/// A YAML error's line (1-based, in its document) and its message.
fn yaml_line_and_message(err: &serde_saphyr::Error) -> (usize, String) {
    let line = err
        .location()
        .and_then(|location| usize::try_from(location.line()).ok())
        .unwrap_or(1);
    // The first line is the message, after the location it repeats.
    let text = err.to_string();
    let first = text.lines().next().unwrap_or_default();
    let message = match first.strip_prefix("error: line ") {
        Some(rest) => rest.split_once(": ").map_or(first, |(_, message)| message),
        None => first,
    };
    (line.max(1), message.to_owned())
}
