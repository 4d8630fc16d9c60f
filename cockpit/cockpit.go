package cockpit

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/serve"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

//go:embed web
var webFS embed.FS

// Options configure the cockpit.
type Options struct {
	// Store is the warehouse; the pages read it under warehouse.ReadOnly.
	Store warehouse.Store
	// Secret signs sessions and CSRF tokens; nil: 32 random bytes, so
	// sessions end when the process does.
	Secret []byte
	// TLS says the server is reached over HTTPS: the cookie gets Secure.
	TLS bool
	// SessionTTL is how long a login lasts. Default 12 hours.
	SessionTTL time.Duration
	// Logger gets errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Catalog has the KPI definitions' SQL, which the KPI page shows (the
	// warehouse keeps their metadata and checksum only); nil: the
	// built-in catalog.
	Catalog *kpis.Catalog
}

// Cockpit serves the pages.
type Cockpit struct {
	store  warehouse.Store
	check  func(string) (string, bool)
	secret []byte
	tls    bool
	ttl    time.Duration
	log    *slog.Logger
	now    func() time.Time
	cat    *kpis.Catalog
	pages  map[string]*template.Template
	static http.Handler
}

const (
	sessionCookie = "ampel_session"
	langCookie    = "ampel_lang"
	prefix        = "/cockpit/"
)

// Mount makes the cockpit and serves it on srv at / and /cockpit/ (and
// /favicon.ico), behind srv's keys (srv.CheckKey).
func Mount(srv *serve.Server, o Options) (*Cockpit, error) {
	c, err := New(srv.CheckKey, o)
	if err != nil {
		return nil, err
	}
	srv.Handle("/{$}", c)
	srv.Handle("/favicon.ico", c)
	srv.Handle(prefix, c)
	return c, nil
}

// New makes the cockpit with check telling which key a secret is (as
// serve.Server.CheckKey does). Mount is the usual way in.
func New(check func(secret string) (name string, ok bool), o Options) (*Cockpit, error) {
	if o.Store == nil {
		return nil, errors.New("cockpit: no store")
	}
	c := &Cockpit{store: o.Store, check: check, secret: o.Secret, tls: o.TLS, ttl: o.SessionTTL, log: o.Logger, now: o.Now}
	if len(c.secret) == 0 {
		c.secret = make([]byte, 32)
		if _, err := rand.Read(c.secret); err != nil {
			return nil, fmt.Errorf("cockpit: make the session secret: %w", err)
		}
	}
	if c.ttl <= 0 {
		c.ttl = 12 * time.Hour
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.cat = o.Catalog
	if c.cat == nil {
		cat, err := kpis.LoadCatalog(ampelsql.KPIs, "", nil)
		if err != nil {
			return nil, fmt.Errorf("cockpit: %w", err)
		}
		c.cat = cat
	}
	if err := c.parse(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, fmt.Errorf("cockpit: static files: %w", err)
	}
	c.static = http.StripPrefix(prefix+"static/", http.FileServerFS(sub))
	return c, nil
}

// parse reads the page templates: each page with the layout.
func (c *Cockpit) parse() error {
	c.pages = map[string]*template.Template{}
	for _, p := range []string{"login", "overview", "lead", "kpi", "findings", "groups", "sync", "error"} {
		files := []string{"web/layout.html", "web/" + p + ".html"}
		if p == "groups" || p == "findings" {
			files = append(files, "web/review.html")
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, files...)
		if err != nil {
			return fmt.Errorf("cockpit: template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	return nil
}

// ServeHTTP routes a request to its page.
func (c *Cockpit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	path := r.URL.Path
	if strings.HasPrefix(path, prefix+"static/") {
		h.Set("Cache-Control", "public, max-age=3600")
		c.static.ServeHTTP(w, r)
		return
	}
	if path == "/favicon.ico" {
		h.Set("Cache-Control", "public, max-age=86400")
		http.ServeFileFS(w, r, webFS, "web/static/favicon.svg")
		return
	}
	if path == prefix+"lang" {
		c.setLang(w, r)
		return
	}
	if path == prefix+"login" {
		c.login(w, r)
		return
	}
	sess, ok := c.session(r)
	if !ok {
		http.Redirect(w, r, prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	h.Set("Cache-Control", "no-store")
	rest := strings.TrimPrefix(path, prefix)
	if r.Method == http.MethodPost {
		if rest != "review" && rest != "logout" {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: this page is read with GET", http.StatusMethodNotAllowed)
			return
		}
		if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(c.csrf(sess))) {
			c.fail(w, r, sess, http.StatusForbidden, "csrf")
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rq := &request{c: c, w: w, r: r, sess: sess, lang: lang(r)}
	switch {
	case path == "/" || path == prefix:
		rq.overview()
	case rest == "logout" && r.Method == http.MethodPost:
		http.SetCookie(w, c.cookie(sessionCookie, "", -1))
		http.Redirect(w, r, prefix+"login", http.StatusSeeOther)
	case rest == "lead" || rest == "lead.csv":
		rq.lead(strings.HasSuffix(rest, ".csv"))
	case strings.HasPrefix(rest, "kpi/"):
		rq.kpi(strings.TrimPrefix(rest, "kpi/"))
	case rest == "findings" || rest == "findings.csv":
		rq.findings(strings.HasSuffix(rest, ".csv"))
	case rest == "groups" || rest == "groups.csv":
		rq.groups(strings.HasSuffix(rest, ".csv"))
	case rest == "review" && r.Method == http.MethodPost:
		rq.review()
	case rest == "sync" || rest == "sync.csv":
		rq.sync(strings.HasSuffix(rest, ".csv"))
	default:
		c.fail(w, r, sess, http.StatusNotFound, "notfound")
	}
}

// session is who is logged in: the key's name.
type session struct {
	key, value string
}

// sign is the session value for key: name, expiry, a nonce, and their
// HMAC.
func (c *Cockpit) sign(key string) string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	payload := base64.RawURLEncoding.EncodeToString([]byte(key)) + "." +
		strconv.FormatInt(c.now().Add(c.ttl).Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(nonce)
	return payload + "." + c.mac("session", payload)
}

func (c *Cockpit) mac(purpose, s string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(purpose + "\x00" + s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session reads and checks the session cookie.
func (c *Cockpit) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	i := strings.LastIndexByte(ck.Value, '.')
	if i < 0 {
		return session{}, false
	}
	payload, sig := ck.Value[:i], ck.Value[i+1:]
	if !hmac.Equal([]byte(sig), []byte(c.mac("session", payload))) {
		return session{}, false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || c.now().Unix() >= exp {
		return session{}, false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return session{}, false
	}
	return session{key: string(name), value: ck.Value}, true
}

// csrf is the CSRF token of a session.
func (c *Cockpit) csrf(s session) string { return c.mac("csrf", s.value) }

func (c *Cockpit) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: c.tls, SameSite: http.SameSiteStrictMode}
}

// login shows the form (GET) or checks the key (POST).
func (c *Cockpit) login(w http.ResponseWriter, r *http.Request) {
	rq := &request{c: c, w: w, r: r, lang: lang(r)}
	next := safeNext(r.FormValue("next"))
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		rq.render(http.StatusOK, "login", "login", map[string]any{"Next": next})
	case http.MethodPost:
		name, ok := c.check(r.PostFormValue("key"))
		if !ok {
			c.log.Info("cockpit login refused", "remote", r.RemoteAddr)
			rq.render(http.StatusUnauthorized, "login", "login", map[string]any{"Next": next, "Refused": true})
			return
		}
		ck := c.cookie(sessionCookie, c.sign(name), int(c.ttl.Seconds()))
		http.SetCookie(w, ck)
		c.log.Info("cockpit login", "key", name)
		http.Redirect(w, r, next, http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// safeNext keeps a redirect target on this site's cockpit.
func safeNext(s string) string {
	if s == "/" || (strings.HasPrefix(s, prefix) && !strings.HasPrefix(s, prefix+"login")) {
		if u, err := url.Parse(s); err == nil && u.Host == "" && u.Scheme == "" {
			return s
		}
	}
	return prefix
}

// setLang sets the language cookie and goes back.
func (c *Cockpit) setLang(w http.ResponseWriter, r *http.Request) {
	l := r.FormValue("l")
	if _, ok := catalog[l]; ok {
		ck := c.cookie(langCookie, l, 365*24*3600)
		http.SetCookie(w, ck)
	}
	http.Redirect(w, r, safeNext(r.FormValue("next")), http.StatusSeeOther)
}

// fail renders an error page with one line saying what happened.
func (c *Cockpit) fail(w http.ResponseWriter, r *http.Request, s session, code int, msg string, args ...any) {
	rq := &request{c: c, w: w, r: r, sess: s, lang: lang(r)}
	rq.render(code, "error", "error", map[string]any{"Message": rq.T(msg, args...)})
}

// request is one page request.
type request struct {
	c    *Cockpit
	w    http.ResponseWriter
	r    *http.Request
	sess session
	lang string
}

// T translates a message.
func (rq *request) T(key string, args ...any) string { return translate(rq.lang, key, args...) }

// render writes page with data; title is a message key.
func (rq *request) render(code int, page, title string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Lang"] = rq.lang
	data["Title"] = rq.T(title)
	data["Page"] = page
	data["Path"] = rq.r.URL.RequestURI()
	data["LoggedIn"] = rq.sess.key != ""
	data["Key"] = rq.sess.key
	if rq.sess.key != "" {
		data["CSRF"] = rq.c.csrf(rq.sess)
	}
	data["T"] = func(key string, args ...any) string { return rq.T(key, args...) }
	var buf bytes.Buffer
	if err := rq.c.pages[page].Execute(&buf, data); err != nil {
		rq.c.log.Error("cockpit: render", "page", page, "err", err)
		http.Error(rq.w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	rq.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rq.w.Header().Set("Content-Language", rq.lang)
	rq.w.WriteHeader(code)
	_, _ = rq.w.Write(buf.Bytes())
}

// failed logs err and shows it on one line.
func (rq *request) failed(what string, err error) {
	rq.c.log.Error("cockpit: "+what, "err", err)
	code := http.StatusInternalServerError
	if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
		rq.c.fail(rq.w, rq.r, rq.sess, http.StatusServiceUnavailable, "notmigrated")
		return
	}
	rq.c.fail(rq.w, rq.r, rq.sess, code, "readfailed", what, err.Error())
}
