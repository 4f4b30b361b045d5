//! `generate_application`: a small project scaffolded from a named template
//! and parameters, returned as files with their contents and a tree.

use plugin_api::{
    Annotations, Field, Form, FormAnswer, InputKind, InputRequest, InputRequests, JsonSchema, Tool,
    ToolContext, ToolError,
};
use serde::{Deserialize, Serialize};

/// Scaffolds a project.
pub struct GenerateApplication;

/// The templates there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Template {
    /// A Rust command-line program with a tested function.
    RustCli,
    /// A Python web API on FastAPI with a health endpoint and tests.
    PythonFastapi,
    /// A Node.js web API on Express with a health endpoint and tests.
    NodeExpress,
}

/// What `generate_application` takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The template. When it is left out, a client that can show its user
    /// a form is asked which.
    #[serde(default)]
    pub template: Option<Template>,
    /// The project's name: lowercase letters, digits and `-` (`orders-api`).
    pub name: String,
    /// One line on what it does.
    #[serde(default = "default_description")]
    #[schemars(length(max = 200))]
    pub description: String,
    /// The port a web template listens on.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1024, max = 65535))]
    pub port: u16,
    /// The SPDX licence id written into the manifest.
    #[serde(default = "default_license")]
    pub license: String,
}

fn default_description() -> String {
    "A new project.".to_owned()
}
fn default_port() -> u16 {
    8080
}
fn default_license() -> String {
    "MIT".to_owned()
}

/// One generated file.
#[derive(Debug, Serialize, JsonSchema)]
pub struct File {
    /// Its path inside the project.
    pub path: String,
    /// Its contents.
    pub contents: String,
}

/// The generated project.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Project {
    /// The template used.
    pub template: String,
    /// The project's directory name.
    pub root: String,
    /// Where to create it: the client's first root with the project's
    /// name, when the client listed its roots.
    pub directory: Option<String>,
    /// The files, ordered by path.
    pub files: Vec<File>,
    /// The file tree, as `tree` would draw it.
    pub tree: String,
    /// The commands that build and test it.
    pub next_steps: Vec<String>,
}

impl Tool for GenerateApplication {
    type Input = Request;
    type Output = Project;

    const NAME: &'static str = "generate_application";
    const TITLE: &'static str = "Generate an application";
    const DESCRIPTION: &'static str = "Scaffolds a small project from a named template (`rust-cli`, `python-fastapi`, `node-express`) and parameters (name, description, port, licence): every file with its contents, the file tree, and the commands that build and test it. The same request always produces the same files.";
    const ANNOTATIONS: Annotations = Annotations::PURE;

    fn run(request: Request, context: &ToolContext) -> Result<Project, ToolError> {
        check(&request)?;
        let mut asks = InputRequests::new();
        let template = match request.template {
            Some(template) => Some(template),
            None => asked_template(context, &mut asks)?,
        };
        // The client's roots propose where the project goes; a client that
        // lists them is asked once, with the template if that is missing.
        if context.can_ask(InputKind::Roots) && context.input(ROOTS_KEY).is_none() {
            asks.insert(ROOTS_KEY.to_owned(), InputRequest::roots());
        }
        let Some(template) = template.filter(|_| asks.is_empty()) else {
            return Err(ToolError::needs_input(asks));
        };
        let directory = context
            .roots(ROOTS_KEY)
            .and_then(|roots| roots.into_iter().next())
            .and_then(|root| directory_in(&root.uri, &request.name));
        let (mut files, next_steps) = match template {
            Template::RustCli => rust_cli(&request),
            Template::PythonFastapi => python_fastapi(&request),
            Template::NodeExpress => node_express(&request),
        };
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let tree = tree(&request.name, &files);
        Ok(Project {
            template: template_name(template).to_owned(),
            root: request.name.clone(),
            directory,
            files,
            tree,
            next_steps,
        })
    }

    fn summary(project: &Project) -> String {
        let directory = project
            .directory
            .as_ref()
            .map(|directory| format!(" (to create in {directory})"))
            .unwrap_or_default();
        format!(
            "{} files from template {}{directory}:\n{}\nNext:\n{}",
            project.files.len(),
            project.template,
            project.tree,
            project
                .next_steps
                .iter()
                .map(|s| format!("  {s}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }
}

/// The key the template is asked under.
const TEMPLATE_KEY: &str = "template";

/// The key the client's roots are asked under.
const ROOTS_KEY: &str = "roots";

/// The template the caller's user chose when asked; or `None`, with the
/// request to ask them added to `asks` (when their client can show a
/// form); or why there is none.
fn asked_template(
    context: &ToolContext,
    asks: &mut InputRequests,
) -> Result<Option<Template>, ToolError> {
    let names = ["rust-cli", "python-fastapi", "node-express"];
    let missing = format!("`template` is missing: pass one of {}", names.join(", "));
    match context.form_answer(TEMPLATE_KEY) {
        Some(FormAnswer::Accepted(fields)) => fields
            .get("template")
            .and_then(serde_json::Value::as_str)
            .and_then(|chosen| match chosen {
                "rust-cli" => Some(Template::RustCli),
                "python-fastapi" => Some(Template::PythonFastapi),
                "node-express" => Some(Template::NodeExpress),
                _ => None,
            })
            .map(Some)
            .ok_or_else(|| ToolError::new(missing.clone())),
        Some(FormAnswer::Declined | FormAnswer::Cancelled) => Err(ToolError::new(format!(
            "{missing}; none was chosen when asked"
        ))),
        None if context.can_ask(InputKind::Elicitation) => {
            let form = Form::new(vec![
                Field::choice("template", "Template", &names)
                    .description("rust-cli: a command-line program; python-fastapi and node-express: a web API with a health endpoint")
                    .default("rust-cli")
                    .required(),
            ]);
            asks.insert(
                TEMPLATE_KEY.to_owned(),
                InputRequest::form("Which template should the project start from?", &form),
            );
            Ok(None)
        }
        None => Err(ToolError::new(missing)),
    }
}

/// `name` inside the directory a `file://` root names; `None` for a root
/// that is not a local directory.
fn directory_in(root: &str, name: &str) -> Option<String> {
    let path = root.strip_prefix("file://")?;
    let path = path.trim_end_matches('/');
    Some(format!("{path}/{name}"))
}

fn template_name(template: Template) -> &'static str {
    match template {
        Template::RustCli => "rust-cli",
        Template::PythonFastapi => "python-fastapi",
        Template::NodeExpress => "node-express",
    }
}

fn check(request: &Request) -> Result<(), ToolError> {
    let name = &request.name;
    let valid = (2..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ToolError::new(format!(
            "`name` {name:?} cannot name a project: use 2 to 64 lowercase letters, digits and `-`, starting with a letter (for example `orders-api`)"
        )));
    }
    if request.description.contains(['\n', '"', '\\']) {
        return Err(ToolError::new(
            "`description` must be one line without quotes or backslashes",
        ));
    }
    if !request
        .license
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.+ ".contains(c))
        || request.license.is_empty()
    {
        return Err(ToolError::new(format!(
            "`license` {:?} is not an SPDX licence id (for example `MIT` or `Apache-2.0`)",
            request.license
        )));
    }
    Ok(())
}

fn file(path: &str, contents: String) -> File {
    File {
        path: path.to_owned(),
        contents,
    }
}

fn readme(request: &Request, commands: &[String]) -> File {
    let steps: String = commands.iter().map(|c| format!("    {c}\n")).collect();
    file(
        "README.md",
        format!(
            "# {}\n\n{}\n\n## Build and test\n\n{steps}",
            request.name, request.description
        ),
    )
}

fn rust_cli(request: &Request) -> (Vec<File>, Vec<String>) {
    let name = &request.name;
    let steps = vec!["cargo test".to_owned(), format!("cargo run -- world")];
    let files = vec![
        file(
            "Cargo.toml",
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"{}\"\nlicense = \"{}\"\n\n[dependencies]\n",
                request.description, request.license
            ),
        ),
        file(
            "src/main.rs",
            format!(
                "//! {}\n\nuse std::process::ExitCode;\n\n/// The greeting for `name`.\nfn greeting(name: &str) -> String {{\n    format!(\"Hello, {{name}}!\")\n}}\n\nfn main() -> ExitCode {{\n    let mut args = std::env::args().skip(1);\n    match (args.next(), args.next()) {{\n        (Some(name), None) => {{\n            println!(\"{{}}\", greeting(&name));\n            ExitCode::SUCCESS\n        }}\n        _ => {{\n            eprintln!(\"usage: {name} NAME\");\n            ExitCode::from(2)\n        }}\n    }}\n}}\n\n#[cfg(test)]\nmod tests {{\n    use super::*;\n\n    #[test]\n    fn greets_by_name() {{\n        assert_eq!(greeting(\"world\"), \"Hello, world!\");\n    }}\n}}\n",
                request.description
            ),
        ),
        file(".gitignore", "/target\n".to_owned()),
        readme(request, &steps),
    ];
    (files, steps)
}

fn python_fastapi(request: &Request) -> (Vec<File>, Vec<String>) {
    let name = &request.name;
    let port = request.port;
    let steps = vec![
        "python -m venv .venv && . .venv/bin/activate".to_owned(),
        "pip install -e '.[test]'".to_owned(),
        "pytest".to_owned(),
        format!("uvicorn app.main:app --port {port}"),
    ];
    let files = vec![
        file(
            "pyproject.toml",
            format!(
                "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"{}\"\nlicense = {{ text = \"{}\" }}\nrequires-python = \">=3.11\"\ndependencies = [\"fastapi>=0.110\", \"uvicorn>=0.29\"]\n\n[project.optional-dependencies]\ntest = [\"pytest>=8\", \"httpx>=0.27\"]\n\n[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[tool.setuptools]\npackages = [\"app\"]\n",
                request.description, request.license
            ),
        ),
        file("app/__init__.py", String::new()),
        file(
            "app/main.py",
            format!(
                "\"\"\"{}\"\"\"\n\nfrom fastapi import FastAPI\n\napp = FastAPI(title=\"{name}\")\n\n\n@app.get(\"/health\")\ndef health() -> dict[str, str]:\n    \"\"\"Answers while the service can serve requests.\"\"\"\n    return {{\"status\": \"ok\"}}\n",
                request.description
            ),
        ),
        file(
            "tests/test_main.py",
            "from fastapi.testclient import TestClient\n\nfrom app.main import app\n\n\ndef test_health_answers_ok() -> None:\n    response = TestClient(app).get(\"/health\")\n    assert response.status_code == 200\n    assert response.json() == {\"status\": \"ok\"}\n".to_owned(),
        ),
        file(
            "Dockerfile",
            format!(
                "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir . && useradd --system --uid 10001 app\nUSER 10001\nEXPOSE {port}\nCMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"{port}\"]\n"
            ),
        ),
        file(".gitignore", ".venv/\n__pycache__/\n*.egg-info/\n".to_owned()),
        readme(request, &steps),
    ];
    (files, steps)
}

fn node_express(request: &Request) -> (Vec<File>, Vec<String>) {
    let name = &request.name;
    let port = request.port;
    let steps = vec![
        "npm install".to_owned(),
        "npm test".to_owned(),
        "npm start".to_owned(),
    ];
    let files = vec![
        file(
            "package.json",
            format!(
                "{{\n  \"name\": \"{name}\",\n  \"version\": \"0.1.0\",\n  \"description\": \"{}\",\n  \"license\": \"{}\",\n  \"type\": \"module\",\n  \"main\": \"src/index.js\",\n  \"scripts\": {{\n    \"start\": \"node src/server.js\",\n    \"test\": \"node --test\"\n  }},\n  \"dependencies\": {{\n    \"express\": \"^4.19.2\"\n  }},\n  \"engines\": {{\n    \"node\": \">=20\"\n  }}\n}}\n",
                request.description, request.license
            ),
        ),
        file(
            "src/index.js",
            format!(
                "// {}\nimport express from \"express\";\n\nexport const app = express();\n\napp.get(\"/health\", (_request, response) => {{\n  response.json({{ status: \"ok\" }});\n}});\n",
                request.description
            ),
        ),
        file(
            "src/server.js",
            format!(
                "import {{ app }} from \"./index.js\";\n\nconst port = Number(process.env.PORT ?? {port});\napp.listen(port, () => {{\n  console.info(`{name} listening on ${{port}}`);\n}});\n"
            ),
        ),
        file(
            "test/health.test.js",
            "import assert from \"node:assert/strict\";\nimport { test } from \"node:test\";\n\nimport { app } from \"../src/index.js\";\n\ntest(\"health answers ok\", async () => {\n  const server = app.listen(0);\n  try {\n    const { port } = server.address();\n    const response = await fetch(`http://127.0.0.1:${port}/health`);\n    assert.equal(response.status, 200);\n    assert.deepEqual(await response.json(), { status: \"ok\" });\n  } finally {\n    server.close();\n  }\n});\n".to_owned(),
        ),
        file(
            "Dockerfile",
            format!(
                "FROM node:20-slim\nWORKDIR /app\nCOPY package*.json ./\nRUN npm install --omit=dev\nCOPY . .\nUSER node\nENV PORT={port}\nEXPOSE {port}\nCMD [\"node\", \"src/server.js\"]\n"
            ),
        ),
        file(".gitignore", "node_modules/\n".to_owned()),
        readme(request, &steps),
    ];
    (files, steps)
}

/// The files as a tree under `root`, directories first at each level.
fn tree(root: &str, files: &[File]) -> String {
    let mut out = format!("{root}/\n");
    let paths: Vec<Vec<&str>> = files.iter().map(|f| f.path.split('/').collect()).collect();
    draw(&mut out, &paths, 0, "");
    out
}

fn draw(out: &mut String, paths: &[Vec<&str>], depth: usize, prefix: &str) {
    // The entries at this depth: (name, is directory), directories first.
    let mut entries: Vec<(&str, bool)> = Vec::new();
    for path in paths {
        let entry = (path[depth], path.len() > depth + 1);
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (index, (name, is_dir)) in entries.iter().enumerate() {
        let last = index + 1 == entries.len();
        out.push_str(&format!(
            "{prefix}{}{name}{}\n",
            if last { "└── " } else { "├── " },
            if *is_dir { "/" } else { "" }
        ));
        if *is_dir {
            let inner: Vec<Vec<&str>> = paths
                .iter()
                .filter(|p| p.len() > depth + 1 && p[depth] == *name)
                .cloned()
                .collect();
            draw(
                out,
                &inner,
                depth + 1,
                &format!("{prefix}{}", if last { "    " } else { "│   " }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn generate(request: serde_json::Value) -> Result<Project, ToolError> {
        let request: Request = serde_json::from_value(request).expect("a request");
        GenerateApplication::run(request, &ToolContext::new(None))
    }

    #[test]
    fn a_template_yields_its_files_and_tree() {
        let project =
            generate(json!({"template": "python-fastapi", "name": "orders-api", "port": 9000}))
                .expect("a project");
        let paths: Vec<&str> = project.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".gitignore",
                "Dockerfile",
                "README.md",
                "app/__init__.py",
                "app/main.py",
                "pyproject.toml",
                "tests/test_main.py"
            ]
        );
        assert_eq!(
            project.tree,
            "orders-api/\n├── app/\n│   ├── __init__.py\n│   └── main.py\n├── tests/\n│   └── test_main.py\n├── .gitignore\n├── Dockerfile\n├── README.md\n└── pyproject.toml\n"
        );
        let dockerfile = &project.files[1].contents;
        assert!(dockerfile.contains("EXPOSE 9000"));
    }

    #[test]
    fn the_same_request_gives_the_same_files() {
        let request = json!({"template": "node-express", "name": "web", "description": "A site."});
        let first = serde_json::to_string(&generate(request.clone()).expect("a project").files)
            .expect("json");
        let second =
            serde_json::to_string(&generate(request).expect("a project").files).expect("json");
        assert_eq!(first, second);
    }

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        let name =
            generate(json!({"template": "rust-cli", "name": "My App"})).expect_err("bad name");
        assert!(
            name.0
                .starts_with("`name` \"My App\" cannot name a project")
        );
        let description =
            generate(json!({"template": "rust-cli", "name": "app", "description": "say \"hi\""}))
                .expect_err("quotes");
        assert!(description.0.contains("without quotes"));
    }
}
