//! How long `review_code` takes on a 1,000-line file in each language with
//! a grammar (target: under 20 ms), and on a 1 MB Python file (it must stay
//! well inside the plugin's time limit). `cargo xtask bench` prints the
//! figures with the target.
//!
//! The files are built from a module of ordinary code (classes, functions,
//! branches, loops, calls), with some of what the rules look for, repeated
//! with fresh names until it is long enough.

use std::hint::black_box;

use code_tools::ReviewCode;
use criterion::{Criterion, criterion_group, criterion_main};
use plugin_api::{Tool, ToolContext};

/// A Python module of about fifty lines; `{n}` makes its names unique.
const PYTHON: &str = r#"import json
import subprocess

import requests


class Repository{n}:
    """Stores records in a database table."""

    def __init__(self, connection, table="records"):
        self.connection = connection
        self.table = table

    def find(self, record_id):
        cursor = self.connection.cursor()
        cursor.execute("SELECT * FROM records WHERE id = %s", (record_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        return {"id": row[0], "name": row[1], "tags": json.loads(row[2])}

    def search(self, name):
        cursor = self.connection.cursor()
        cursor.execute("SELECT * FROM records WHERE name = '%s'" % name)
        return [dict(row) for row in cursor.fetchall() if row]


def fetch_all{n}(urls, retries=3):
    results = []
    for url in urls:
        for attempt in range(retries):
            try:
                response = requests.get(url, timeout=10)
                if response.status_code == 200:
                    results.append(response.json())
                    break
                elif response.status_code >= 500 and attempt < retries - 1:
                    continue
                else:
                    break
            except requests.RequestException:
                if attempt == retries - 1:
                    raise
    return results


def archive{n}(directory, name):
    command = ["tar", "czf", name, "--", directory]
    subprocess.run(command, check=True)
    return name
"#;

/// `template` repeated with fresh names until it has `lines` lines.
fn source(template: &str, lines: usize) -> String {
    let mut code = String::new();
    let mut n = 0;
    while code.lines().count() < lines {
        code.push_str(&template.replace("{n}", &n.to_string()));
        code.push('\n');
        n += 1;
    }
    code
}

fn review(code: &str, language: &str) -> usize {
    let input = serde_json::from_value(serde_json::json!({
        "code": code,
        "language": language,
    }))
    .expect("a valid review_code input");
    ReviewCode::run(input, &ToolContext::new(None))
        .expect("the review runs")
        .findings
        .len()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("review_code");
    let python = source(PYTHON, 1000);
    assert!(review(&python, "python") > 0, "the sample has findings");
    group.bench_function("python_1000_lines", |b| {
        b.iter(|| review(black_box(&python), "python"))
    });
    // Whole modules up to the tools' input limit.
    let module = source(PYTHON, 1);
    let megabyte = module.repeat(code_tools::MAX_CODE_BYTES / module.len());
    group.sample_size(10);
    group.bench_function("python_1_mb", |b| {
        b.iter(|| review(black_box(&megabyte), "python"))
    });
    group.finish();
}

criterion_group!(code_review, benches);
criterion_main!(code_review);
