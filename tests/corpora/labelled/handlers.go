package main

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"fmt"
	"html"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

type Server struct {
	db *sql.DB
}

func (s *Server) User(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	// ruleid: sql-injection
	row := s.db.QueryRow("SELECT name FROM users WHERE id = " + id)
	var name string
	_ = row.Scan(&name)
	// ok: sql-injection
	row = s.db.QueryRow("SELECT name FROM users WHERE id = $1", id)
	_ = row.Scan(&name)
	fmt.Fprintf(w, "%s", html.EscapeString(name))
}

func (s *Server) Search(w http.ResponseWriter, r *http.Request) {
	term := r.FormValue("q")
	query := fmt.Sprintf("SELECT name FROM users WHERE name LIKE '%%%s%%'", term)
	// ruleid: sql-injection
	rows, err := s.db.Query(query)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
}

func Ping(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	// ruleid: command-injection
	out, _ := exec.Command("sh", "-c", "ping -c 1 "+host).Output()
	// ok: command-injection
	out, _ = exec.Command("ping", "-c", "1", "localhost").Output()
	w.Write(out)
}

func Download(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("file")
	// ruleid: path-traversal
	data, err := os.ReadFile(filepath.Join("/srv/files", name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}

func Index(w http.ResponseWriter, r *http.Request) {
	// ok: path-traversal
	data, _ := os.ReadFile("/srv/files/index.html")
	w.Write(data)
}

func Hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	// ruleid: reflected-xss
	fmt.Fprintf(w, "<h1>Hello %s</h1>", name)
	// ok: reflected-xss
	fmt.Fprintf(w, "<h1>Hello %s</h1>", html.EscapeString(name))
}

func Proxy(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("url")
	// ruleid: ssrf
	resp, err := http.Get(target)
	if err != nil {
		return
	}
	defer resp.Body.Close()
}

func Next(w http.ResponseWriter, r *http.Request) {
	// ruleid: open-redirect
	http.Redirect(w, r, r.URL.Query().Get("next"), http.StatusFound)
}

func Home(w http.ResponseWriter, r *http.Request) {
	// ok: open-redirect
	http.Redirect(w, r, "/dashboard", http.StatusFound)
}

func Fingerprint(data []byte) []byte {
	// ruleid: weak-hash
	sum := md5.Sum(data)
	return sum[:]
}

func Checksum(data []byte) []byte {
	// ok: weak-hash
	sum := sha256.Sum256(data)
	return sum[:]
}

func Token() int {
	// ruleid: insecure-random
	return rand.Intn(1000000)
}

func Client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			// ruleid: tls-insecure
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		Timeout: 10 * time.Second,
	}
}

func SafeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			// ok: tls-insecure
			TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		},
		Timeout: 10 * time.Second,
	}
}

func Save(path string, data []byte) error {
	// ruleid: file-permissions
	return os.WriteFile(path, data, 0666)
}

func SaveSafely(path string, data []byte) error {
	// ok: file-permissions
	return os.WriteFile(path, data, 0600)
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", Ping)
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	srv.ListenAndServe()
}
