//! A person's approval of a call the policies allow only with one
//! (`context.approved`): asked through the client, bound to the call's exact
//! arguments, and audited at every step.

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, InputRequest, InputRequests,
    InputRequiredResult, ResultType,
};
use serde_json::{Value, json};

use super::asking::{
    APPROVAL_KEY, Channel, FormAnswer, approval_form, approval_schema, comment, read_form_answer,
};
use super::denial::DenialSlot;
use super::refusals::FORBIDDEN;
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
        ct: &tokio_util::sync::CancellationToken,
        denial: Option<&DenialSlot>,
        channel: &Channel<'_>,
        progress: &mut Progress,
    ) -> Result<Sought, McpError> {
        if self.caller.principal.kind != core_auth::PrincipalKind::User {
            return Err(self.unaskable(
                denial,
                "the caller is not a person: only a user signed in through OAuth can approve a call, never a machine's access key",
            ));
        }
        if !channel.can_elicit() {
            return Err(self.unaskable(denial, unaskable_client(channel)));
        }
        match channel {
            Channel::Retry { responses, .. } => {
                if progress.awaiting_approval
                    && let Some(answer) = responses.get(APPROVAL_KEY)
                {
                    let answer = self.read(answer)?;
                    return Ok(self.settle(answer, progress));
                }
                self.ask_in_retry(progress)
            }
            Channel::Stream { peer, .. } => {
                let form = approval_form(self.caller, self.tool, self.arguments, self.policies)?;
                self.audit(ApprovalStep::Requested, None);
                let asked = peer.create_elicitation_with_timeout(form, Some(self.states.ttl()));
                let answer = tokio::select! {
                    answer = asked => answer,
                    () = ct.cancelled() => {
                        self.audit(ApprovalStep::Cancelled, None);
                        return Err(McpError::invalid_request(
                            format!("the call to `{}` was cancelled by the client while its approval was asked", self.tool),
                            None,
                        ));
                    }
                };
                let answer = match answer {
                    Ok(answer) => serde_json::to_value(answer).unwrap_or_default(),
                    Err(err) => {
                        self.audit(ApprovalStep::Cancelled, None);
                        return Ok(Sought::Answer(tool_error(format!(
                            "The approval of this call to `{}` could not be asked: {err}. Nothing ran.",
                            self.tool
                        ))));
                    }
                };
                let answer = self.read(&answer)?;
                // A reload while the person read the form may have changed
                // what the call needs: the call starts over rather than be
                // decided by the set it began under.
                if self.catalogue.policies().hash() != self.caller.policies.hash() {
                    self.audit(ApprovalStep::Cancelled, None);
                    return Ok(Sought::Answer(tool_error(format!(
                        "The policies changed while the approval of this call to `{}` was asked, so it may no longer be what they require. Nothing ran; call it again.",
                        self.tool
                    ))));
                }
                Ok(self.settle(answer, progress))
            }
            Channel::Closed => Err(self.unaskable(denial, unaskable_client(channel))),
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
                    awaiting_approval: true,
                    answers: progress.answers.clone(),
                    ..Progress::default()
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
                progress.approve(self.states.ttl());
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

    /// Reads the person's answer; a malformed one ends the approval,
    /// audited as cancelled, with the field named.
    fn read(&self, answer: &Value) -> Result<FormAnswer, McpError> {
        read_form_answer(APPROVAL_KEY, &approval_schema(), answer).map_err(|why| {
            self.audit(ApprovalStep::Cancelled, None);
            McpError::invalid_params(why, Some(json!({ "tool": self.tool })))
        })
    }

    /// The denial for a call nobody can approve here, saying `why`.
    fn unaskable(&self, denial: Option<&DenialSlot>, why: &str) -> McpError {
        let message = format!(
            "`{}` needs a person's approval of these exact arguments before it runs (policies: {}), and {why}.",
            self.tool,
            self.policies.join(", ")
        );
        super::denial::report_unchallenged(denial, &message);
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

/// Why `channel`'s client cannot show a person the approval.
fn unaskable_client(channel: &Channel<'_>) -> &'static str {
    match channel {
        Channel::Closed => {
            "this request cannot be asked anything: it came outside a session from a client that predates MCP 2026-07-28. Call it from an MCP client that supports elicitation, in a session (initialize) or over 2026-07-28"
        }
        _ => {
            "this client declared no elicitation capability, so it cannot show a person the approval. Call it from an MCP client that supports elicitation"
        }
    }
}

/// A tool error result, complete: the call is over.
fn tool_error(message: String) -> Box<CallToolResponse> {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.result_type = Some(ResultType::COMPLETE);
    Box::new(result.into())
}
