//! A person's approval of a call the policies allow only with one
//! (`context.approved`): asked through the client, bound to the call's exact
//! arguments, and audited at every step.

use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, InputRequest, InputRequests,
    InputRequiredResult, ResultType,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{Value, json};

use super::asking::{
    APPROVAL_KEY, Channel, FormAnswer, approval_form, approval_schema, comment, read_form_answer,
};
use super::handler::FORBIDDEN;
use super::request_state::{Binding, Progress, RequestStates};
use crate::catalogue::{ApprovalStep, Caller, Catalogue};

/// What came of seeking an approval.
pub(super) enum Sought {
    /// A person approved: decide again with `context.approved` true.
    Given,
    /// The call ends here with this answer: an input-required result that
    /// asks for the approval, or a tool error saying it was refused.
    Answer(Box<CallToolResponse>),
}

/// One call that waits for a person's approval.
pub(super) struct Pending<'a> {
    pub(super) catalogue: &'a Catalogue,
    pub(super) states: &'a RequestStates,
    pub(super) caller: &'a Caller,
    pub(super) tool: &'a str,
    pub(super) arguments: &'a Value,
    /// The policies that allow the call once approved.
    pub(super) policies: &'a [String],
}

impl Pending<'_> {
    /// Asks the caller's user to approve the call, or reads their answer
    /// from a 2026-07-28 retry whose `progress` says an approval was asked.
    pub(super) async fn seek(
        &self,
        context: &RequestContext<RoleServer>,
        channel: &Channel,
        progress: &mut Progress,
    ) -> Result<Sought, McpError> {
        if !channel.can_elicit() {
            return Err(self.unaskable(context, channel));
        }
        match channel {
            Channel::Retry { responses, .. } => {
                if progress.awaiting_approval
                    && let Some(answer) = responses.get(APPROVAL_KEY)
                {
                    let answer = read_form_answer(APPROVAL_KEY, &approval_schema(), answer)
                        .map_err(|why| self.invalid(why))?;
                    return Ok(self.settle(answer, progress));
                }
                self.ask_in_retry(progress)
            }
            Channel::Stream { peer, .. } => {
                self.audit(ApprovalStep::Requested, None);
                let form = approval_form(self.caller, self.tool, self.arguments, self.policies)?;
                let answer = match peer
                    .create_elicitation_with_timeout(form, Some(self.states.ttl()))
                    .await
                {
                    Ok(answer) => serde_json::to_value(answer).unwrap_or_default(),
                    Err(err) => {
                        self.audit(ApprovalStep::Cancelled, None);
                        return Ok(Sought::Answer(tool_error(format!(
                            "The approval of this call to `{}` could not be asked: {err}. Nothing ran.",
                            self.tool
                        ))));
                    }
                };
                let answer = read_form_answer(APPROVAL_KEY, &approval_schema(), &answer)
                    .map_err(|why| self.invalid(why))?;
                Ok(self.settle(answer, progress))
            }
            Channel::Closed => Err(self.unaskable(context, channel)),
        }
    }

    /// The input-required result that asks for the approval, with a state
    /// that remembers it was asked.
    fn ask_in_retry(&self, progress: &Progress) -> Result<Sought, McpError> {
        let state = self
            .states
            .seal(
                &Binding::of(self.caller, self.tool, self.arguments),
                &Progress {
                    approved: false,
                    awaiting_approval: true,
                    answers: progress.answers.clone(),
                },
            )
            .map_err(|why| McpError::internal_error(why, None))?;
        let form = approval_form(self.caller, self.tool, self.arguments, self.policies)?;
        let request: InputRequest = serde_json::from_value(json!({
            "method": "elicitation/create",
            "params": form,
        }))
        .map_err(|err| McpError::internal_error(format!("the approval request: {err}"), None))?;
        let mut requests = InputRequests::new();
        requests.insert(APPROVAL_KEY.to_owned(), request);
        self.audit(ApprovalStep::Requested, None);
        Ok(Sought::Answer(Box::new(
            InputRequiredResult::new(Some(requests), Some(state)).into(),
        )))
    }

    /// What the person's answer means for the call.
    fn settle(&self, answer: FormAnswer, progress: &mut Progress) -> Sought {
        match answer {
            FormAnswer::Accepted(fields) => {
                self.audit(ApprovalStep::Accepted, comment(&fields));
                progress.approved = true;
                progress.awaiting_approval = false;
                Sought::Given
            }
            FormAnswer::Declined => {
                self.audit(ApprovalStep::Declined, None);
                Sought::Answer(tool_error(format!(
                    "The call to `{}` was not approved: the approval was declined. Nothing ran.",
                    self.tool
                )))
            }
            FormAnswer::Cancelled => {
                self.audit(ApprovalStep::Cancelled, None);
                Sought::Answer(tool_error(format!(
                    "The call to `{}` was not approved: the approval was cancelled. Nothing ran.",
                    self.tool
                )))
            }
        }
    }

    fn audit(&self, step: ApprovalStep, comment: Option<String>) {
        self.catalogue
            .audit_approval(self.caller, self.tool, step, self.policies, comment);
    }

    fn invalid(&self, why: String) -> McpError {
        McpError::invalid_params(why, Some(json!({ "tool": self.tool })))
    }

    /// The denial for a client that cannot show a person the approval.
    fn unaskable(&self, context: &RequestContext<RoleServer>, channel: &Channel) -> McpError {
        let why = match channel {
            Channel::Closed => {
                "this request cannot be asked anything: it came outside a session from a client that predates MCP 2026-07-28 (initialize to open a session)"
            }
            _ => {
                "this client declared no elicitation capability, so it cannot show a person the approval"
            }
        };
        let message = format!(
            "`{}` needs a person's approval of these exact arguments before it runs (policies: {}), and {why}. Call it from an MCP client that supports elicitation.",
            self.tool,
            self.policies.join(", ")
        );
        super::denial::report_unchallenged(context, &message);
        McpError::new(
            FORBIDDEN,
            message,
            Some(json!({
                "tool": self.tool,
                "approval_required": true,
                "policies": self.policies,
            })),
        )
    }
}

/// A tool error result, complete: the call is over.
fn tool_error(message: String) -> Box<CallToolResponse> {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.result_type = Some(ResultType::COMPLETE);
    Box::new(result.into())
}
