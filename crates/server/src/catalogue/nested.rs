//! What a plugin reaches during a call: the tool calls it makes, decided
//! for the caller of the call that runs it, and the way back to the client
//! for progress, messages and cancellation.

use plugin_host::{CallHooks, LogLevel, NestedOutcome, Progress, RefusalReason};
use serde_json::Value;

use super::{CallRefusal, Caller, Catalogue, MAX_NESTING};
use crate::shared::Refusal;
use crate::shared::limiter::whole_seconds;

/// The tool calls a plugin makes during a call: each authorised for the
/// caller of that call, under the same policy set, and audited like any
/// other call.
pub(super) struct NestedCalls {
    /// The calling tool's span: every call it makes is a child of it,
    /// whichever thread the plugin makes it from.
    pub(super) span: tracing::Span,
    pub(super) catalogue: Catalogue,
    /// The original caller, one level deeper.
    pub(super) caller: Caller,
    /// What the client may be asked: the calling tool may pass on what a
    /// tool it calls asks for.
    pub(super) can_ask: Vec<plugin_host::InputKind>,
    /// The answers the server checked for the calling tool: the only ones
    /// it may pass on to the tools it calls.
    pub(super) answers: std::sync::Arc<serde_json::Map<String, Value>>,
}

impl CallHooks for NestedCalls {
    fn progress(&self, progress: Progress) {
        // One progress token stands for the client's own call: a tool that
        // a tool called reports to the tool, not the client.
        if self.caller.nesting == 1 {
            self.caller.client.progress(progress);
        }
    }

    fn notify(&self, level: LogLevel, message: String) {
        self.caller.client.log(level, message);
    }

    fn is_cancelled(&self) -> bool {
        self.caller.client.is_cancelled()
    }

    fn call_tool(
        &self,
        tool: String,
        arguments: Value,
        inputs: serde_json::Map<String, Value>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = NestedOutcome> + Send + 'static>> {
        let catalogue = self.catalogue.clone();
        let caller = self.caller.clone();
        // A called tool may ask what its caller may, and the model only
        // where the policies let it sample too.
        let can_ask = self
            .can_ask
            .iter()
            .copied()
            .filter(|kind| {
                *kind != plugin_host::InputKind::Sampling
                    || self.catalogue.may_sample(&self.caller, &tool)
            })
            .collect();
        // A tool passes on only answers the client gave and the server
        // checked; it cannot make one up for the tool it calls.
        let forged = inputs
            .values()
            .any(|answer| !self.answers.values().any(|checked| checked == answer));
        let asking = super::Asking { can_ask, inputs };
        let span = self.span.clone();
        Box::pin(tracing::Instrument::instrument(
            async move {
                if forged {
                    return NestedOutcome::Refused {
                        reason: RefusalReason::Invalid,
                        message: format!(
                            "`{tool}` was not called: the calling tool passed on answers its client did not give"
                        ),
                    };
                }
                if caller.nesting > MAX_NESTING {
                    return NestedOutcome::Refused {
                        reason: RefusalReason::Invalid,
                        message: format!(
                            "`{tool}` was not called: tools may call tools at most {MAX_NESTING} \
                         levels deep"
                        ),
                    };
                }
                if let Some(limiter) = catalogue.rate_limiter()
                    && let Err(refusal) = limiter.charge(caller.principal.id.as_str()).await
                {
                    let why = match refusal {
                        Refusal::Limited(wait) => {
                            crate::telemetry::metrics::rate_limited("caller");
                            format!(
                                "the calls tools make count against the caller's rate limit, at most {} \
                         requests per minute (RATE_LIMIT_PER_MINUTE); retry after {} s",
                                limiter.per_minute(),
                                whole_seconds(wait)
                            )
                        }
                        Refusal::Unavailable => {
                            "rate limits are kept in Redis, which is unreachable \
                                             (REDIS_FAILURE=closed); retry once it is back"
                                .to_owned()
                        }
                        Refusal::Revoked => "the caller's token has been revoked".to_owned(),
                    };
                    return NestedOutcome::Refused {
                        reason: RefusalReason::Invalid,
                        message: format!("`{tool}` was not called: {why}"),
                    };
                }
                match catalogue.call(&caller, &tool, arguments, &asking).await {
                    Ok(result) => NestedOutcome::Completed { result },
                    Err(refusal) => NestedOutcome::Refused {
                        reason: match refusal {
                            CallRefusal::UnknownTool(_) => RefusalReason::UnknownTool,
                            CallRefusal::Denied { .. }
                            | CallRefusal::NeedsApproval { .. }
                            | CallRefusal::OutsideSession { .. } => RefusalReason::Denied,
                            CallRefusal::BudgetSpent { .. }
                            | CallRefusal::ToolRateLimited { .. }
                            | CallRefusal::LimitUnavailable { .. } => RefusalReason::Invalid,
                        },
                        message: refusal.to_string(),
                    },
                }
            },
            span,
        ))
    }
}
