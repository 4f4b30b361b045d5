import hashlib
import os
import pickle
import sqlite3
import subprocess

import requests
import yaml
from flask import Flask, redirect, render_template, render_template_string, request, send_file, url_for

app = Flask(__name__)
DB = "app.db"
ROOT = "/srv/files"


@app.route("/user")
def user():
    conn = sqlite3.connect(DB)
    cursor = conn.cursor()
    user_id = request.args.get("id")
    # ruleid: sql-injection
    cursor.execute("SELECT name FROM users WHERE id = '%s'" % user_id)
    # ok: sql-injection
    cursor.execute("SELECT name FROM users WHERE id = ?", (user_id,))
    return str(cursor.fetchone())


@app.route("/search")
def search():
    term = request.args.get("q", "")
    query = f"SELECT name FROM users WHERE name LIKE '%{term}%'"
    cursor = sqlite3.connect(DB).cursor()
    # ruleid: sql-injection
    cursor.execute(query)
    return render_template("results.html", rows=cursor.fetchall())


@app.route("/ping")
def ping():
    host = request.args.get("host", "localhost")
    # ruleid: command-injection
    out = subprocess.check_output("ping -c 1 " + host, shell=True)
    # ok: command-injection
    out = subprocess.check_output(["ping", "-c", "1", host])
    return out


@app.route("/lookup")
def lookup():
    name = request.args.get("name", "")
    # ruleid: command-injection
    os.system("nslookup " + name)
    return "done"


@app.route("/download")
def download():
    name = request.args.get("file")
    # ruleid: path-traversal
    return send_file(os.path.join(ROOT, name))


@app.route("/read")
def read():
    # ruleid: path-traversal
    with open("/srv/reports/" + request.args["report"]) as handle:
        return handle.read()


@app.route("/fetch")
def fetch():
    url = request.args.get("url")
    # ruleid: ssrf
    return requests.get(url, timeout=5).text


@app.route("/status")
def status():
    # ok: ssrf
    return requests.get("https://status.example.com/api", timeout=5).text


@app.route("/next")
def go_next():
    target = request.args.get("next")
    # ruleid: open-redirect
    return redirect(target)


@app.route("/home")
def home():
    # ok: open-redirect
    return redirect(url_for("user"))


@app.route("/hello")
def hello():
    name = request.args.get("name", "")
    # ruleid: reflected-xss
    return "<h1>Hello " + name + "</h1>"


@app.route("/greet")
def greet():
    # ok: reflected-xss
    return render_template("greet.html", name=request.args.get("name", ""))


@app.route("/page")
def page():
    body = request.form["body"]
    # ruleid: template-injection
    return render_template_string(body)


@app.route("/load", methods=["POST"])
def load():
    # ruleid: insecure-deserialization
    data = pickle.loads(request.get_data())
    # ruleid: insecure-deserialization
    config = yaml.load(request.form["config"], Loader=yaml.Loader)
    # ok: insecure-deserialization
    safe = yaml.safe_load(request.form["config"])
    return str((data, config, safe))


def fingerprint(password):
    # ruleid: weak-hash
    return hashlib.md5(password.encode()).hexdigest()


def checksum(blob):
    # ok: weak-hash
    return hashlib.sha256(blob).hexdigest()


def call_partner(payload):
    # ruleid: tls-verify-disabled
    return requests.post("https://partner.example.com/api", json=payload, verify=False, timeout=10)


def call_partner_safely(payload):
    # ok: tls-verify-disabled
    return requests.post("https://partner.example.com/api", json=payload, timeout=10)


def evaluate(expression):
    # ruleid: code-injection
    return eval(expression)


if __name__ == "__main__":
    # ruleid: debug-enabled
    app.run(host="0.0.0.0", debug=True)
