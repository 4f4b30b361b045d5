//! Architecture tools: `architect` (components, interfaces and data stores
//! derived from a description by explicit rules, with a Mermaid diagram),
//! `optimize_prompt` (a prompt template linted and restructured) and
//! `generate_application` (a small project scaffolded from a template),
//! behind the `legendary:architect`, `legendary:prompts` and
//! `legendary:generate` scopes; and the `architecture_brief` prompt, behind
//! `legendary:architect`.

mod architect;
mod brief;
mod generate;
mod prompt;
mod refine;

pub use architect::Architect;
pub use brief::ArchitectureBrief;
pub use generate::GenerateApplication;
pub use prompt::OptimizePrompt;

plugin_api::export_tools!(
    ArchitectTools: [Architect, GenerateApplication, OptimizePrompt],
    prompts: [ArchitectureBrief],
);
