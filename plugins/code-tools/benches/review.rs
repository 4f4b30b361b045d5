//! How long `review_code` takes on a 1,000-line file in each language with
//! a grammar (target: under 20 ms), and on a 1 MB Python file (it must stay
//! well inside the plugin's time limit). TypeScript is measured on the
//! JavaScript sample, which it reads as it is. `cargo xtask bench` prints the
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

/// A JavaScript (Express) module of about fifty lines.
const JAVASCRIPT: &str = r#"const express = require('express');
const { execFile } = require('child_process');

const router{n} = express.Router();

async function loadUser{n}(db, id) {
  const rows = await db.query('SELECT * FROM users WHERE id = ?', [id]);
  if (rows.length === 0) {
    return null;
  }
  return { id: rows[0].id, name: rows[0].name, tags: JSON.parse(rows[0].tags) };
}

router{n}.get('/users/:id', async (req, res, next) => {
  try {
    const user = await loadUser{n}(req.db, req.params.id);
    if (!user) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    res.json(user);
  } catch (err) {
    next(err);
  }
});

router{n}.get('/search', async (req, res) => {
  const name = req.query.name;
  const sql = "SELECT * FROM users WHERE name = '" + name + "'";
  const rows = await req.db.query(sql);
  res.send('<ul>' + rows.map((row) => `<li>${row.name}</li>`).join('') + '</ul>');
});

function archive{n}(directory, name, done) {
  execFile('tar', ['czf', name, '--', directory], (err) => {
    if (err && err.code !== 0) {
      done(err);
    } else {
      done(null, name);
    }
  });
}

module.exports = { router{n}, archive{n} };
"#;

/// A Go (net/http) file of about fifty lines.
const GO: &str = r#"type Store{n} struct {
	db *sql.DB
}

func (s *Store{n}) Find(ctx context.Context, id int64) (*User, error) {
	row := s.db.QueryRowContext(ctx, "SELECT id, name FROM users WHERE id = $1", id)
	var u User
	if err := row.Scan(&u.ID, &u.Name); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	return &u, nil
}

func (s *Store{n}) Search(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	q := fmt.Sprintf("SELECT id, name FROM users WHERE name = '%s'", name)
	rows, err := s.db.Query(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.Name); err != nil {
			continue
		}
		fmt.Fprintf(w, "<li>%s</li>", html.EscapeString(u.Name))
	}
}

func Archive{n}(dir, name string) error {
	cmd := exec.Command("tar", "czf", name, "--", dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("tar: %w: %s", err, out)
	}
	return nil
}
"#;

/// A Java (servlet) class of about fifty lines.
const JAVA: &str = r#"class UserServlet{n} extends HttpServlet {
    private final DataSource dataSource;

    UserServlet{n}(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String id = request.getParameter("id");
        if (id == null || id.isEmpty()) {
            response.sendError(400, "id is required");
            return;
        }
        try (Connection connection = dataSource.getConnection();
             PreparedStatement statement = connection.prepareStatement("SELECT name FROM users WHERE id = ?")) {
            statement.setString(1, id);
            try (ResultSet rows = statement.executeQuery()) {
                if (rows.next()) {
                    response.getWriter().println(Encode.forHtml(rows.getString(1)));
                } else {
                    response.sendError(404);
                }
            }
        } catch (SQLException e) {
            throw new IOException(e);
        }
    }

    List<String> search(Statement statement, String name) throws SQLException {
        String sql = "SELECT name FROM users WHERE name = '" + name + "'";
        List<String> names = new ArrayList<>();
        try (ResultSet rows = statement.executeQuery(sql)) {
            while (rows.next()) {
                names.add(rows.getString(1));
            }
        }
        return names;
    }

    String digest(byte[] data) throws NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        return HexFormat.of().formatHex(md.digest(data));
    }
}
"#;

/// A Ruby (Rails) controller of about fifty lines.
const RUBY: &str = r#"class UsersController{n} < ApplicationController
  before_action :authenticate_user!

  def index
    @users = User.where(active: true).order(:name).limit(50)
    respond_to do |format|
      format.html
      format.json { render json: @users }
    end
  end

  def show
    @user = User.find_by(id: params[:id])
    if @user.nil?
      head :not_found
    elsif @user.suspended?
      redirect_to root_path, alert: "suspended"
    else
      render :show
    end
  end

  def search
    name = params[:name]
    @users = User.where("name = '#{name}'")
    render :index
  end

  def update
    @user = User.find(params[:id])
    if @user.update(user_params)
      redirect_to @user
    else
      render :edit, status: :unprocessable_entity
    end
  end

  private

  def user_params
    params.require(:user).permit(:name, :email)
  end
end
"#;

/// A Rust module of about fifty lines.
const RUST: &str = r#"pub struct Store{n} {
    pool: PgPool,
}

impl Store{n} {
    pub async fn find(&self, id: i64) -> Result<Option<User>, Error> {
        let row = sqlx::query_as::<_, User>("SELECT id, name FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    pub async fn search(&self, name: &str) -> Result<Vec<User>, Error> {
        let sql = format!("SELECT id, name FROM users WHERE name = '{name}'");
        let rows = sqlx::query_as::<_, User>(&sql).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().filter(|user| !user.name.is_empty()).collect())
    }

    pub fn classify(&self, user: &User) -> &'static str {
        match user.name.len() {
            0 => "empty",
            1..=3 => "short",
            _ if user.name.contains(' ') => "full",
            _ => "plain",
        }
    }
}

pub fn archive{n}(dir: &Path, name: &str) -> std::io::Result<()> {
    let status = Command::new("tar").args(["czf", name, "--"]).arg(dir).status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!("tar exited with {status}")));
    }
    Ok(())
}
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

/// Each language's sample, by the name review_code takes.
const SAMPLES: &[(&str, &str)] = &[
    ("python", PYTHON),
    ("javascript", JAVASCRIPT),
    ("typescript", JAVASCRIPT),
    ("go", GO),
    ("java", JAVA),
    ("ruby", RUBY),
    ("rust", RUST),
];

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("review_code");
    for (language, template) in SAMPLES {
        let code = source(template, 1000);
        assert!(
            review(&code, language) > 0,
            "the {language} sample has findings"
        );
        group.bench_function(format!("{language}_1000_lines"), |b| {
            b.iter(|| review(black_box(&code), language))
        });
    }
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
