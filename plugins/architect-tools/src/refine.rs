//! A second opinion from the client's model (MCP sampling) on a rule-based
//! answer: asked only where the client offers sampling and a policy lets
//! the tool spend the user's model (the `sample` action). The rule-based
//! answer stays the answer; the model's is added beside it, labelled, or
//! left out when sampling is unavailable or the client declines.

use plugin_api::serde_json::{Value, json};
use plugin_api::{InputKind, InputRequest, InputRequests, JsonSchema, ToolContext, ToolError};
use serde::Serialize;

/// The key the model is asked under.
const KEY: &str = "refinement";

/// What the source of a refinement is called in every output.
pub(crate) const SOURCE: &str =
    "the client's model (MCP sampling); not checked by this tool's rules";

/// The client's model's answer, beside the tool's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Refinement {
    /// Where it came from: always the client's model, never this tool.
    pub source: String,
    /// What the model answered.
    pub text: String,
}

/// What the client's model made of `ask` (with `system` as its system
/// prompt): its answer once given; or, when the client can be asked and
/// has not been, the request to ask it; or `None` (sampling unavailable or
/// declined).
pub(crate) fn refinement(
    context: &ToolContext,
    system: &str,
    ask: impl FnOnce() -> String,
    max_tokens: u32,
) -> Result<Option<Refinement>, ToolError> {
    if context.input(KEY).is_some() {
        return Ok(context.sampled_text(KEY).map(|text| Refinement {
            source: SOURCE.to_owned(),
            text: text.trim().to_owned(),
        }));
    }
    if !context.can_ask(InputKind::Sampling) {
        return Ok(None);
    }
    let params: Value = json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": ask()}}],
        "systemPrompt": system,
        "maxTokens": max_tokens,
    });
    Err(ToolError::needs_input(InputRequests::from([(
        KEY.to_owned(),
        InputRequest::sample_with(params),
    )])))
}

/// The summary's paragraph for a refinement, if any.
pub(crate) fn paragraph(refinement: Option<&Refinement>) -> String {
    refinement.map_or_else(String::new, |refinement| {
        format!("\n\nRefined by {}:\n{}", refinement.source, refinement.text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(can_ask: Vec<InputKind>, inputs: Value) -> ToolContext {
        ToolContext::answering(can_ask, inputs.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn the_model_is_asked_only_where_it_can_be_and_its_answer_is_labelled() {
        let ask = || "improve this".to_owned();
        assert_eq!(
            refinement(&context(vec![], json!({})), "s", ask, 10),
            Ok(None)
        );
        let asked = refinement(&context(vec![InputKind::Sampling], json!({})), "s", ask, 10)
            .expect_err("asks");
        let requests = plugin_api::ToolResult::from(asked)
            .input_requests
            .expect("a request");
        assert_eq!(requests[KEY].kind(), Some(InputKind::Sampling));
        assert_eq!(requests[KEY].params["systemPrompt"], "s");
        let answered = json!({KEY: {"role": "assistant", "content": {"type": "text", "text": " Better. "}, "model": "m"}});
        assert_eq!(
            refinement(&context(vec![InputKind::Sampling], answered), "s", ask, 10),
            Ok(Some(Refinement {
                source: SOURCE.to_owned(),
                text: "Better.".to_owned()
            }))
        );
        let declined = json!({KEY: {"declined": "the user said no"}});
        assert_eq!(
            refinement(&context(vec![InputKind::Sampling], declined), "s", ask, 10),
            Ok(None)
        );
    }
}
