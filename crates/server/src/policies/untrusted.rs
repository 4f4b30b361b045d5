//! Loading policy text safely: Cedar's parser and validator recurse once
//! per level of nesting, so text that did not come from the policy
//! directory is bounded in size per statement, and every load runs on a
//! thread with a stack deep enough for any text within the bound.

/// The most tokens one statement (a policy, a schema declaration) of a
/// policy text from outside the policy directory (a console candidate, a
/// bundle read from Redis) may have. Cedar's parser and validator recurse once per
/// level of nesting, and a statement nests at most as deep as it has
/// tokens, so this bounds the stack such a text can take; the shipped
/// policies' longest statement has well under a hundred.
pub(crate) const MAX_STATEMENT_TOKENS: usize = 1_000;

/// The stack policies are loaded on: enough for [`MAX_STATEMENT_TOKENS`]
/// levels of nesting with room to spare (only what is used is ever
/// touched). A runtime worker's 2 MiB overflows, aborting the process,
/// on a few thousand.
const STACK_BYTES: usize = 256 * 1024 * 1024;

/// The 1-based line of the first statement of `source` with more than
/// [`MAX_STATEMENT_TOKENS`] tokens, counting words, numbers, strings and
/// each other character as one, outside comments.
pub(crate) fn overlong_statement(source: &str) -> Option<usize> {
    let mut chars = source.char_indices().peekable();
    let (mut tokens, mut line, mut statement_line) = (0usize, 1usize, 1usize);
    while let Some((_, c)) = chars.next() {
        if tokens == 0 && !c.is_whitespace() && c != ';' {
            statement_line = line;
        }
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if chars.peek().is_some_and(|(_, next)| *next == '/') => {
                while chars.next_if(|(_, next)| *next != '\n').is_some() {}
            }
            '"' => {
                tokens += 1;
                while let Some((_, inner)) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            c if c.is_alphanumeric() || c == '_' => {
                tokens += 1;
                while chars
                    .next_if(|(_, next)| next.is_alphanumeric() || *next == '_')
                    .is_some()
                {}
            }
            ';' => {
                tokens = 0;
                continue;
            }
            _ => tokens += 1,
        }
        if tokens > MAX_STATEMENT_TOKENS {
            return Some(statement_line);
        }
    }
    None
}

/// Runs `work` on a new thread named `name` with a stack for policy
/// loading (see [`STACK_BYTES`]); its result, or why it has none.
pub(crate) async fn on_big_stack<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (sent, answer) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let _ = sent.send(work());
        })
        .map_err(|err| format!("could not start a thread: {err}"))?;
    answer
        .await
        .map_err(|_| "it stopped unexpectedly before it answered".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_statements_are_found_by_their_line() {
        let ordinary = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/tools.cedar"),
        )
        .expect("tools.cedar");
        assert_eq!(overlong_statement(&ordinary), None);
        let long_chain = format!(
            "// a comment; with ((( in it\npermit (principal, action, resource);\n\
             forbid (principal, action, resource)\nwhen {{ {} }};",
            vec!["true"; MAX_STATEMENT_TOKENS].join(" && ")
        );
        assert_eq!(overlong_statement(&long_chain), Some(3));
        let in_strings = format!(
            "permit (principal, action, resource == Tool::\"{}\");",
            "(".repeat(5000)
        );
        assert_eq!(overlong_statement(&in_strings), None);
    }
}
