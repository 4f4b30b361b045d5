//! `orchestrate`: runs a plan of tool calls, each authorised for the caller.
//!
//! The plan is a set of steps, each a tool call with the ids of the steps it
//! waits for. Steps run in waves: every step whose dependencies have all
//! finished runs in the next wave, and the steps of one wave run in
//! parallel. A step whose dependency failed or was denied is skipped, since
//! it was declared to need that step's work. A plan with a cycle, a
//! dependency on a step that does not exist, or a repeated id is refused
//! before anything runs.

use std::collections::{BTreeMap, HashMap};

use plugin_api::{
    Annotations, InputRequests, JsonSchema, LogLevel, RefusalReason, Tool, ToolContext, ToolError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most steps one plan may hold.
pub(crate) const MAX_STEPS: usize = 32;
/// The most steps of one wave that run at the same time.
const MAX_PARALLEL: usize = 8;

/// Runs a plan of tool calls.
pub struct Orchestrate;

/// A plan of tool calls.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The steps, in any order; dependencies decide when each runs.
    #[schemars(length(min = 1, max = 32))]
    pub steps: Vec<Step>,
}

/// One tool call in a plan.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step's id, unique in the plan (`lint`, `deploy-1`), without `/`.
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
    /// The tool to call.
    #[schemars(length(min = 1))]
    pub tool: String,
    /// The tool's arguments.
    #[serde(default)]
    pub arguments: Map<String, Value>,
    /// The ids of the steps that must finish first.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// What happened to each step.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanReport {
    /// Each step, in the order the plan listed them.
    pub steps: Vec<StepReport>,
    /// The waves the plan was scheduled in: the ids of each wave's steps. A
    /// skipped step is listed in the wave it would have run in.
    pub waves: Vec<Vec<String>>,
    /// How many steps ended in each status.
    pub counts: Counts,
}

/// How many steps ended in each status.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Counts {
    /// Steps whose tool ran and succeeded.
    pub completed: usize,
    /// Steps whose tool ran and reported an error.
    pub failed: usize,
    /// Steps the policies did not let the caller run.
    pub denied: usize,
    /// Steps that were not run for another reason (unknown tool, nested
    /// too deeply).
    pub refused: usize,
    /// Steps not run because a step they depend on did not complete.
    pub skipped: usize,
    /// Steps not started because the client cancelled the plan.
    pub cancelled: usize,
}

/// What happened to one step.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StepReport {
    /// The step's id.
    pub id: String,
    /// The tool it called.
    pub tool: String,
    /// What happened.
    pub status: StepStatus,
    /// The wave it ran in, from 1; absent for a skipped step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave: Option<usize>,
    /// The tool's text, or why the step did not run.
    pub text: String,
    /// The tool's structured result, when it returned one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
    /// What the step's tool asked the client for: passed on, under the
    /// step's id, and the plan runs again with the answers.
    #[serde(skip)]
    #[schemars(skip)]
    pub asked: Option<InputRequests>,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// The tool ran and succeeded.
    Completed,
    /// The tool ran and reported an error.
    Failed,
    /// The policies did not let the caller call the tool.
    Denied,
    /// The call was refused for another reason.
    Refused,
    /// A step it depends on did not complete.
    Skipped,
    /// The client cancelled the plan before the step started.
    Cancelled,
}

impl Tool for Orchestrate {
    type Input = Plan;
    type Output = PlanReport;

    const NAME: &'static str = "orchestrate";
    const TITLE: &'static str = "Orchestrate tools";
    const DESCRIPTION: &'static str = "Runs a plan of tool calls: each step names a tool, its arguments and the steps it depends on. Independent steps run in parallel; each step is authorised for the caller exactly as if the caller had made it. Returns every step's result, denial or reason for being skipped. Plans with cycles or unknown dependencies are refused.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: false,
    };

    fn run(plan: Plan, context: &ToolContext) -> Result<PlanReport, ToolError> {
        let waves = schedule(&plan.steps)?;
        let total = plan.steps.len();
        let mut outcomes: HashMap<usize, StepReport> = HashMap::new();
        context.progress(0.0, Some(total as f64), Some("scheduled"));
        'waves: for (number, wave) in waves.iter().enumerate() {
            let (runnable, skipped): (Vec<usize>, Vec<usize>) = wave.iter().partition(|&&index| {
                plan.steps[index].depends_on.iter().all(|dependency| {
                    outcomes
                        .values()
                        .any(|done| &done.id == dependency && done.status == StepStatus::Completed)
                })
            });
            for index in skipped {
                let step = &plan.steps[index];
                outcomes.insert(index, skip(step, &outcomes));
            }
            for chunk in runnable.chunks(MAX_PARALLEL) {
                // A cancelled plan starts no more steps; the ones running
                // finish, so nothing is left half-done.
                if context.is_cancelled() {
                    break 'waves;
                }
                let reports = std::thread::scope(|scope| {
                    let running: Vec<_> = chunk
                        .iter()
                        .map(|&index| {
                            let step = &plan.steps[index];
                            (
                                index,
                                scope.spawn(move || run_step(step, number + 1, context)),
                            )
                        })
                        .collect();
                    running
                        .into_iter()
                        .map(|(index, handle)| {
                            let report = handle.join().unwrap_or_else(|_| StepReport {
                                id: plan.steps[index].id.clone(),
                                tool: plan.steps[index].tool.clone(),
                                status: StepStatus::Failed,
                                wave: Some(number + 1),
                                text: "the step's thread panicked".to_owned(),
                                structured: None,
                                asked: None,
                            });
                            (index, report)
                        })
                        .collect::<Vec<_>>()
                });
                for (_, report) in &reports {
                    context.notify(
                        LogLevel::INFO,
                        &format!("step {} ({}): {:?}", report.id, report.tool, report.status)
                            .to_lowercase(),
                    );
                }
                outcomes.extend(reports);
                let ids: Vec<&str> = chunk
                    .iter()
                    .map(|&index| plan.steps[index].id.as_str())
                    .collect();
                context.progress(
                    outcomes.len() as f64,
                    Some(total as f64),
                    Some(&format!("wave {}: {} done", number + 1, ids.join(", "))),
                );
            }
        }
        for (index, step) in plan.steps.iter().enumerate() {
            outcomes.entry(index).or_insert_with(|| StepReport {
                id: step.id.clone(),
                tool: step.tool.clone(),
                status: StepStatus::Cancelled,
                wave: None,
                text: "not started: the plan was cancelled".to_owned(),
                structured: None,
                asked: None,
            });
        }
        // The questions the steps' tools asked go to the client, each under
        // its step's id; the plan runs again with the answers.
        let asked: InputRequests = outcomes
            .values_mut()
            .filter_map(|report| Some((report.id.clone(), report.asked.take()?)))
            .flat_map(|(id, requests)| {
                requests
                    .into_iter()
                    .map(move |(key, request)| (format!("{id}/{key}"), request))
            })
            .collect();
        if !asked.is_empty() {
            return Err(ToolError::needs_input(asked));
        }
        let mut counts = Counts::default();
        let steps: Vec<StepReport> = (0..plan.steps.len())
            .filter_map(|index| outcomes.remove(&index))
            .inspect(|report| match report.status {
                StepStatus::Completed => counts.completed += 1,
                StepStatus::Failed => counts.failed += 1,
                StepStatus::Denied => counts.denied += 1,
                StepStatus::Refused => counts.refused += 1,
                StepStatus::Skipped => counts.skipped += 1,
                StepStatus::Cancelled => counts.cancelled += 1,
            })
            .collect();
        let waves = waves
            .iter()
            .map(|wave| {
                wave.iter()
                    .map(|&index| plan.steps[index].id.clone())
                    .collect()
            })
            .collect();
        let report = PlanReport {
            steps,
            waves,
            counts,
        };
        context.log(LogLevel::INFO, &first_line(&Self::summary(&report)));
        Ok(report)
    }

    fn summary(report: &PlanReport) -> String {
        let counts = &report.counts;
        let mut text = format!(
            "{} steps in {} waves: {} completed, {} failed, {} denied, {} refused, {} skipped",
            report.steps.len(),
            report.waves.len(),
            counts.completed,
            counts.failed,
            counts.denied,
            counts.refused,
            counts.skipped
        );
        if counts.cancelled > 0 {
            text.push_str(&format!(", {} cancelled", counts.cancelled));
        }
        for step in &report.steps {
            let first_line = step.text.lines().next().unwrap_or_default();
            text.push_str(&format!(
                "\n- {} ({}): {:?}: {first_line}",
                step.id, step.tool, step.status
            ));
        }
        text
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

fn run_step(step: &Step, wave: usize, context: &ToolContext) -> StepReport {
    let report = |status, text: String, structured| StepReport {
        id: step.id.clone(),
        tool: step.tool.clone(),
        status,
        wave: Some(wave),
        text,
        structured,
        asked: None,
    };
    // The answers to what this step's tool asked, under the step's id.
    let prefix = format!("{}/", step.id);
    let inputs: Map<String, Value> = context
        .caller()
        .map(|caller| {
            caller
                .inputs
                .iter()
                .filter_map(|(key, answer)| {
                    Some((key.strip_prefix(&prefix)?.to_owned(), answer.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    match context.call_tool_with_inputs(&step.tool, Value::Object(step.arguments.clone()), inputs) {
        Ok(mut result) if result.input_requests.is_some() => StepReport {
            asked: result.input_requests.take().map(|requests| *requests),
            ..report(
                StepStatus::Failed,
                "waiting for what the tool asked the client".to_owned(),
                None,
            )
        },
        Ok(result) => {
            let status = if result.is_error {
                StepStatus::Failed
            } else {
                StepStatus::Completed
            };
            let text = result.first_text().unwrap_or_default().to_owned();
            report(status, text, result.structured_content)
        }
        Err(refusal) => {
            let status = if refusal.reason == RefusalReason::Denied {
                StepStatus::Denied
            } else {
                StepStatus::Refused
            };
            report(status, refusal.message, None)
        }
    }
}

fn skip(step: &Step, outcomes: &HashMap<usize, StepReport>) -> StepReport {
    let blocking: Vec<String> = step
        .depends_on
        .iter()
        .filter_map(|dependency| {
            outcomes
                .values()
                .find(|done| &done.id == dependency && done.status != StepStatus::Completed)
                .map(|done| format!("`{}` ({:?})", done.id, done.status).to_lowercase())
        })
        .collect();
    StepReport {
        id: step.id.clone(),
        tool: step.tool.clone(),
        status: StepStatus::Skipped,
        wave: None,
        text: format!(
            "not run: it depends on {}, which did not complete",
            blocking.join(", ")
        ),
        structured: None,
        asked: None,
    }
}

/// Orders the steps into waves (indexes into `steps`), or says why the plan
/// cannot run: a repeated id, an unknown dependency, or a cycle.
fn schedule(steps: &[Step]) -> Result<Vec<Vec<usize>>, ToolError> {
    if steps.is_empty() {
        return Err(ToolError::new("the plan has no steps; add at least one"));
    }
    if steps.len() > MAX_STEPS {
        return Err(ToolError::new(format!(
            "the plan has {} steps; at most {MAX_STEPS} are allowed: split it into smaller plans",
            steps.len()
        )));
    }
    let mut index_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, step) in steps.iter().enumerate() {
        // The questions a step's tool asks go to the client under
        // `<id>/<key>`: an id with a `/` could pass for another step's.
        if step.id.is_empty() || step.id.contains('/') {
            return Err(ToolError::new(format!(
                "step id `{}` must be non-empty and may not contain `/`",
                step.id
            )));
        }
        if index_of.insert(step.id.as_str(), index).is_some() {
            return Err(ToolError::new(format!(
                "step id `{}` is used twice; give each step its own id",
                step.id
            )));
        }
    }
    for step in steps {
        for dependency in &step.depends_on {
            if !index_of.contains_key(dependency.as_str()) {
                return Err(ToolError::new(format!(
                    "step `{}` depends on `{dependency}`, which is not a step of this plan",
                    step.id
                )));
            }
        }
    }
    let mut level: Vec<Option<usize>> = vec![None; steps.len()];
    let mut remaining: Vec<usize> = (0..steps.len()).collect();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    while !remaining.is_empty() {
        let ready: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&index| {
                steps[index]
                    .depends_on
                    .iter()
                    .all(|dependency| level[index_of[dependency.as_str()]].is_some())
            })
            .collect();
        if ready.is_empty() {
            return Err(ToolError::new(format!(
                "the plan has a cycle: {}; remove one of these dependencies",
                describe_cycle(steps, &index_of, &remaining)
            )));
        }
        for &index in &ready {
            level[index] = Some(waves.len());
        }
        remaining.retain(|index| !ready.contains(index));
        waves.push(ready);
    }
    Ok(waves)
}

/// One cycle among the steps that could not be scheduled, as
/// `a -> b -> a`.
fn describe_cycle(steps: &[Step], index_of: &BTreeMap<&str, usize>, stuck: &[usize]) -> String {
    // Every stuck step waits on at least one stuck step, so following
    // stuck dependencies from any of them must come back round.
    let mut path: Vec<usize> = Vec::new();
    let mut current = stuck[0];
    loop {
        if let Some(start) = path.iter().position(|&seen| seen == current) {
            let mut names: Vec<&str> = path[start..]
                .iter()
                .map(|&i| steps[i].id.as_str())
                .collect();
            names.push(steps[current].id.as_str());
            return names.join(" -> ");
        }
        path.push(current);
        let next = steps[current]
            .depends_on
            .iter()
            .map(|dependency| index_of[dependency.as_str()])
            .find(|index| stuck.contains(index));
        match next {
            Some(next) => current = next,
            None => {
                return path
                    .iter()
                    .map(|&i| steps[i].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{CallToolError, ToolResult};
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    fn plan(steps: Value) -> Plan {
        serde_json::from_value(json!({ "steps": steps })).expect("a plan")
    }

    /// A context whose tools echo their arguments, deny `audit_log`, fail
    /// `broken`, and record the order of calls.
    fn context(calls: Arc<Mutex<Vec<String>>>) -> ToolContext {
        ToolContext::with_tools(None, move |tool, arguments| {
            calls.lock().expect("lock").push(tool.to_owned());
            match tool {
                "audit_log" => Err(CallToolError {
                    reason: RefusalReason::Denied,
                    message: "Scope validation failed: tool `audit_log` needs one of: admin:logs"
                        .to_owned(),
                }),
                "broken" => Ok(ToolResult::error("broken is broken")),
                _ => Ok(ToolResult::structured(arguments, format!("{tool} ran"))),
            }
        })
    }

    fn run(steps: Value) -> Result<PlanReport, ToolError> {
        Orchestrate::run(plan(steps), &context(Arc::default()))
    }

    #[test]
    fn a_step_id_that_could_pass_for_another_steps_questions_is_refused() {
        let refused =
            run(json!([{"id": "deploy/port", "tool": "ping"}])).expect_err("a `/` in an id");
        assert!(
            refused.message().contains("may not contain `/`"),
            "{refused}"
        );
    }

    #[test]
    fn independent_steps_share_a_wave_and_dependents_wait() {
        let report = run(json!([
            {"id": "c", "tool": "ping", "depends_on": ["a", "b"]},
            {"id": "a", "tool": "ping", "arguments": {"message": "A"}},
            {"id": "b", "tool": "ping"},
        ]))
        .expect("runs");
        assert_eq!(report.waves, vec![vec!["a", "b"], vec!["c"]]);
        assert_eq!(report.counts.completed, 3);
        assert_eq!(report.steps[0].id, "c", "reported in plan order");
        assert_eq!(report.steps[0].wave, Some(2));
        assert_eq!(report.steps[1].structured, Some(json!({"message": "A"})));
    }

    #[test]
    fn a_denied_step_is_reported_and_its_dependents_skipped() {
        let report = run(json!([
            {"id": "logs", "tool": "audit_log"},
            {"id": "after", "tool": "ping", "depends_on": ["logs"]},
            {"id": "other", "tool": "ping"},
        ]))
        .expect("runs");
        assert_eq!(report.steps[0].status, StepStatus::Denied);
        assert!(report.steps[0].text.contains("admin:logs"));
        assert_eq!(report.steps[1].status, StepStatus::Skipped);
        assert!(
            report.steps[1].text.contains("`logs` (denied)"),
            "{}",
            report.steps[1].text
        );
        assert_eq!(report.steps[2].status, StepStatus::Completed);
        let summary = Orchestrate::summary(&report);
        assert!(
            summary.starts_with("3 steps in 2 waves: 1 completed, 0 failed, 1 denied"),
            "{summary}"
        );
    }

    #[test]
    fn progress_is_reported_per_step_and_a_cancelled_plan_starts_no_more_steps() {
        let host = Arc::new(plugin_api::LocalHost::with_tools(|tool, arguments| {
            Ok(ToolResult::structured(arguments, format!("{tool} ran")))
        }));
        let steps = json!([
            {"id": "a", "tool": "ping"},
            {"id": "b", "tool": "ping", "depends_on": ["a"]},
            {"id": "c", "tool": "ping", "depends_on": ["b"]},
        ]);
        let context = ToolContext::local(None, Arc::clone(&host));
        let report = Orchestrate::run(plan(steps.clone()), &context).expect("runs");
        assert_eq!(report.counts.completed, 3);
        let progress: Vec<(f64, Option<f64>)> = host
            .progress()
            .iter()
            .map(|report| (report.done, report.total))
            .collect();
        assert_eq!(
            progress,
            [
                (0.0, Some(3.0)),
                (1.0, Some(3.0)),
                (2.0, Some(3.0)),
                (3.0, Some(3.0))
            ]
        );
        assert_eq!(
            host.progress()[2].message.as_deref(),
            Some("wave 2: b done")
        );
        assert_eq!(
            host.messages()[0],
            (LogLevel::INFO, "step a (ping): completed".to_owned())
        );

        // Cancelled while the first step runs: the rest never start.
        let cancel: Arc<std::sync::OnceLock<Arc<plugin_api::LocalHost>>> = Arc::default();
        let host = Arc::new(plugin_api::LocalHost::with_tools({
            let cancel = Arc::clone(&cancel);
            move |tool, arguments| {
                if let Some(host) = cancel.get() {
                    host.cancel();
                }
                Ok(ToolResult::structured(arguments, format!("{tool} ran")))
            }
        }));
        let _ = cancel.set(Arc::clone(&host));
        let context = ToolContext::local(None, Arc::clone(&host));
        let report = Orchestrate::run(plan(steps), &context).expect("runs");
        assert_eq!(report.steps[0].status, StepStatus::Completed);
        assert_eq!(report.counts.cancelled, 2);
        assert_eq!(report.steps[2].status, StepStatus::Cancelled);
        assert_eq!(report.steps[2].text, "not started: the plan was cancelled");
        assert!(Orchestrate::summary(&report).contains("cancelled"));
    }

    #[test]
    fn a_failed_tool_is_a_failed_step() {
        let report = run(json!([{"id": "x", "tool": "broken"}])).expect("runs");
        assert_eq!(report.steps[0].status, StepStatus::Failed);
        assert_eq!(report.steps[0].text, "broken is broken");
    }

    #[test]
    fn cycles_are_refused_naming_the_cycle_before_anything_runs() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let error = Orchestrate::run(
            plan(json!([
                {"id": "start", "tool": "ping"},
                {"id": "a", "tool": "ping", "depends_on": ["start", "c"]},
                {"id": "b", "tool": "ping", "depends_on": ["a"]},
                {"id": "c", "tool": "ping", "depends_on": ["b"]},
            ])),
            &context(Arc::clone(&calls)),
        )
        .expect_err("a cycle");
        assert_eq!(
            error.0,
            "the plan has a cycle: a -> c -> b -> a; remove one of these dependencies"
        );
        assert!(calls.lock().expect("lock").is_empty());
    }

    #[test]
    fn bad_plans_are_refused_with_the_reason() {
        let self_cycle = run(json!([{"id": "a", "tool": "ping", "depends_on": ["a"]}]));
        assert!(self_cycle.expect_err("refused").0.contains("a -> a"));
        let unknown = run(json!([{"id": "a", "tool": "ping", "depends_on": ["z"]}]));
        assert!(unknown.expect_err("refused").0.contains("depends on `z`"));
        let twice = run(json!([{"id": "a", "tool": "ping"}, {"id": "a", "tool": "ping"}]));
        assert!(twice.expect_err("refused").0.contains("`a` is used twice"));
    }
}
