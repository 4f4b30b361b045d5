//! Code tools: `review_code`, `fix_code` and `quality_report`, behind the
//! `tools:review`, `tools:fix` and `legendary:quality` scopes, and beside
//! them the `code_review` prompt, the `code-tools://languages` resource and
//! the `code-tools://review-rules/{language}` resources, behind
//! `tools:review`.
//!
//! Each tool takes the source text as `code`, with an optional `language`
//! (guessed from the text when absent), and works on it deterministically:
//! the same text always gets the same answer.

mod complexity;
mod fix;
mod guidance;
mod language;
mod quality;
mod review;
mod rules;
mod scan;
mod severity;

use plugin_api::ToolError;

pub use fix::FixCode;
pub use guidance::{CodeReview, Languages, ReviewRules};
pub use quality::QualityReport;
pub use review::ReviewCode;

use language::Language;

plugin_api::export_tools!(
    CodeTools: [FixCode, QualityReport, ReviewCode],
    prompts: [CodeReview],
    resources: [Languages],
    templates: [ReviewRules],
    start: crate::rules::check,
);

/// The most source text one call may send, in bytes. The server can set a
/// lower limit for all plugin tools (`plugins.max_input_bytes`).
pub const MAX_CODE_BYTES: usize = 1024 * 1024;

/// The language named, or the one guessed from `code`.
fn language_of(name: Option<&str>, code: &str) -> Result<Language, ToolError> {
    Language::resolve(name, code)
}

/// Refuses text past [`MAX_CODE_BYTES`].
/// Refuses a review or a fix in `language` when its rules do not compile,
/// naming the rule file and line: reviewing without them would report
/// code as clean that the rules would flag.
fn check_rules(language: language::Language) -> Result<(), ToolError> {
    let error = crate::rules::book()
        .ok()
        .and_then(|book| book.compile_error(language));
    match error {
        Some(error) => Err(ToolError::new(format!(
            "the {} rules do not compile, so code in it cannot be reviewed: {error}",
            language.name()
        ))),
        None => Ok(()),
    }
}

fn check_size(code: &str) -> Result<(), ToolError> {
    if code.len() > MAX_CODE_BYTES {
        return Err(ToolError::new(format!(
            "`code` is {} bytes; the code tools read at most {MAX_CODE_BYTES} bytes: send one file at a time",
            code.len()
        )));
    }
    Ok(())
}
