const express = require('express');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { exec, execFile } = require('child_process');
const axios = require('axios');
const mysql = require('mysql');

const app = express();
const db = mysql.createConnection({ host: 'localhost', user: 'app', password: process.env.DB_PASSWORD });
const ROOT = path.join(__dirname, 'public');

app.get('/user', (req, res) => {
  // ruleid: sql-injection
  db.query('SELECT name FROM users WHERE id = ' + req.query.id, (err, rows) => res.json(rows));
});

app.get('/user-safe', (req, res) => {
  // ok: sql-injection
  db.query('SELECT name FROM users WHERE id = ?', [req.query.id], (err, rows) => res.json(rows));
});

app.get('/orders', (req, res) => {
  const customer = req.query.customer;
  const sql = `SELECT * FROM orders WHERE customer = '${customer}'`;
  // ruleid: sql-injection
  db.query(sql, (err, rows) => res.json(rows));
});

app.get('/ping', (req, res) => {
  // ruleid: command-injection
  exec('ping -c 1 ' + req.query.host, (err, out) => res.send(out));
});

app.get('/ping-safe', (req, res) => {
  // ok: command-injection
  execFile('ping', ['-c', '1', req.query.host], (err, out) => res.type('text').send(out));
});

app.get('/file', (req, res) => {
  const name = req.query.name;
  // ruleid: path-traversal
  res.sendFile(path.join(ROOT, name));
});

app.get('/file-safe', (req, res) => {
  // ok: path-traversal
  res.sendFile('index.html', { root: ROOT });
});

app.get('/read', (req, res) => {
  // ruleid: path-traversal
  fs.readFile('/srv/reports/' + req.params.report, 'utf8', (err, text) => res.type('text').send(text));
});

app.get('/hello', (req, res) => {
  // ruleid: reflected-xss
  res.send('<h1>Hello ' + req.query.name + '</h1>');
});

app.get('/hello-safe', (req, res) => {
  // ok: reflected-xss
  res.json({ greeting: 'Hello', name: req.query.name });
});

app.get('/proxy', async (req, res) => {
  const url = req.query.url;
  // ruleid: ssrf
  const response = await axios.get(url);
  res.json(response.data);
});

app.get('/status', async (req, res) => {
  // ok: ssrf
  const response = await axios.get('https://status.example.com/api');
  res.json(response.data);
});

app.get('/next', (req, res) => {
  // ruleid: open-redirect
  res.redirect(req.query.next);
});

app.get('/home', (req, res) => {
  // ok: open-redirect
  res.redirect('/dashboard');
});

app.post('/calc', (req, res) => {
  // ruleid: code-injection
  const result = eval(req.body.expression);
  res.json({ result });
});

app.post('/calc-safe', (req, res) => {
  // ok: code-injection
  const result = JSON.parse(req.body.payload);
  res.json({ result });
});

function digest(password) {
  // ruleid: weak-hash
  return crypto.createHash('md5').update(password).digest('hex');
}

function checksum(blob) {
  // ok: weak-hash
  return crypto.createHash('sha256').update(blob).digest('hex');
}

function newToken() {
  // ruleid: insecure-random
  const token = Math.random().toString(36).slice(2);
  return token;
}

function newTokenSafely() {
  // ok: insecure-random
  const token = crypto.randomBytes(32).toString('hex');
  return token;
}

function render(container, comment) {
  // ruleid: dom-xss
  container.innerHTML = '<p>' + comment.body + '</p>';
  // ok: dom-xss
  container.textContent = comment.body;
}

const agent = new https.Agent({
  // ruleid: tls-verify-disabled
  rejectUnauthorized: false,
});

app.listen(3000);
