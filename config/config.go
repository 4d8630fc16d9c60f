// Package config reads Ampel's one YAML configuration file.
//
// Loading is strict: an unknown key, a value of the wrong kind, or a value
// that fails validation is an *Error naming the file, the line and the
// dotted key (ampel.yaml:7: warehouse.driver: …). Any value may be written
// as ${NAME} (or contain it) to take it from the environment; that is how
// secrets stay out of the file. A ${NAME} that is not set is an error too.
//
// An error quotes the value it is about only when that cannot leak a
// secret: a value that came from ${NAME} is named by its variable ("the
// value from ${AMPEL_CLIENT_SECRET} is not a whole number"), and the value
// of a key named like a secret (client_secret, api_keys, dsn, password…)
// or of a secret's shape (16+ characters mixing upper case, lower case and
// digits; 32+ hex digits; a URL with a password) is "the value (not
// shown)". A tab that indents a line is named as such; YAML allows spaces
// only.
//
// Config that would lose or leak data is refused: warehouse.database may
// not be one of the engine's own databases (system, information_schema,
// INFORMATION_SCHEMA; "default" is an ordinary database and allowed), and
// table and column logical names are lower case, as Dataverse writes them
// (Lead is refused, not left to fail at sync). Whether an exclude_columns
// entry is a column of its table can only be known from the table's
// metadata, so the sync checks it (connector/schema) and refuses a table
// with an unknown entry before writing anything; ampel doctor checks it
// too. Errors about sync tables name the key the user wrote
// (sync.extra_tables[0]), never the merged list.
//
// The file, with every key and its default:
//
//	warehouse:
//	  driver: embedded          # embedded (in-process engine) or clickhouse (a server)
//	  path: warehouse           # embedded: data directory, relative to this file
//	  library: ""               # embedded: libchdb.so; default: the one make libchdb installs
//	  dsn: ""                   # clickhouse: clickhouse://user:${CLICKHOUSE_PASSWORD}@host:9000/ampel?secure=true
//	  ca_file: ""               # clickhouse: PEM bundle to trust for TLS
//	  database: ampel
//	  cluster: ""               # clickhouse: a cluster of remote_servers; DDL goes out ON CLUSTER (README, "Running on a cluster")
//	  max_conns: 8
//	  dial_timeout: 10s
//	  query_timeout: 10m
//	environments:               # one or more Dataverse environments
//	  - name: prod              # kept apart in the warehouse by the _environment column
//	    url: https://contoso.crm4.dynamics.com
//	    tenant_id: …            # or authority: https://login.microsoftonline.us/<tenant> (sovereign clouds)
//	    client_id: …
//	    client_secret: ${AMPEL_CLIENT_SECRET}   # or certificate_file + key_file
//	    ca_file: ""             # extra CA to trust (the simulator's)
//	    max_concurrency: 52     # cap of parallel requests to this environment (Dataverse's limit per user; the client adapts below it)
//	sync:
//	  tables: [lead, opportunity, …]  # default: the sales tables (DefaultTables); entries may be {name, exclude_columns}
//	  extra_tables: []          # added to the default list
//	  page_size: 5000
//	  max_wait: 5m              # total time a request may spend waiting on retries
//	  overlap: 5m               # watermark overlap for tables without change tracking
//	  parallel_tables: 6        # tables synced at once (round trips overlap; each costs memory: README)
//	  parallel_ranges: 8        # a large table's first load reads up to this many createdon ranges at once; 1: one read
//	  memory_budget_mb: 64      # pages (bodies and decoded rows) all reads of an environment hold at once; reads wait beyond it
//	  checkpoint_every: 10s     # a long full load saves where it stands this often
//	  reconcile:                # deletes of tables without change tracking: read every key, tombstone the gone
//	    every: 0s               # tables under large_keys keys at most this often; 0s: every sync
//	    large_keys: 1000000     # tables with this many keys or more …
//	    large_every: 24h        # … at most this often
//	schedules:                  # ampel run: table groups on cron schedules
//	  - name: hourly
//	    cron: "0 * * * *"
//	    tables: []              # empty: every table
//	    lease: 2m               # server driver: the group's lease, so that two ampel run never sync it at once (package schedule/lease)
//	serve:                      # ampel serve, ampel run: the OData feed, /healthz, /metrics
//	  addr: 127.0.0.1:8080
//	  keys:                     # who may read the feed; remove an entry to revoke it
//	    - name: powerbi
//	      key: ${AMPEL_FEED_KEY}  # the key itself, from the environment
//	    - name: finance
//	      sha256: 9f86d08…        # or its SHA-256 in hex (sha256sum of the key, without newline)
//	  key_param: api_key        # the query parameter of Power BI's Web API key credential
//	  page_size: 5000           # rows per page of the feed; a client's odata.maxpagesize may lower it
//	  tls_cert: ""              # PEM certificate (chain) and key: serve HTTPS
//	  tls_key: ""
//	  insecure_http: false      # plain HTTP beyond loopback (behind a TLS-terminating proxy only)
//	  snapshot_keep: 1h         # old snapshots of the BI marts stay this long (the last two always; see package marts)
//	kpis:
//	  inputs: ""                # the inputs file (go-live, licensed users, costs, surveys…); see kpis/inputs.example.yaml
//	  dir: ""                   # your own KPI definitions, <id>/v<N>.sql, beside the built-in ones
//	  timezone: UTC             # periods (weeks, months, days after go-live) are cut in this zone
//	  critical_fields:          # completeness KPIs: replaces a table's default critical fields
//	    - table: lead
//	      fields: [lastname, companyname, emailaddress1]
//	marts:
//	  timezone: ""              # the BI marts' dates are days in this zone; default: kpis.timezone
//	scoring:
//	  dir: ""                   # your own lead scoring models, <id>/v<N>.yaml, beside the built-in ones
//	  models: []                # the models ampel score run and ampel run score (ID or ID@vN); empty: every model
//	audit:
//	  dir: ""                   # your own audit rules, <id>/v<N>.yaml or .sql, beside the built-in ones
//	  rules: []                 # run only these (ID or ID@vN); empty: the default version of every rule
//	  retention_days: 730       # GDPR: leads and contacts with no activity for longer are reported
//	log:
//	  level: info               # debug, info, warn, error
//	  format: text              # text or json
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ampel/ampel/warehouse"
)

// Config is the whole configuration file.
type Config struct {
	Warehouse    Warehouse     `yaml:"warehouse"`
	Environments []Environment `yaml:"environments"`
	Sync         Sync          `yaml:"sync"`
	Schedules    []Schedule    `yaml:"schedules"`
	Serve        Serve         `yaml:"serve"`
	KPIs         KPIs          `yaml:"kpis"`
	Marts        Marts         `yaml:"marts"`
	Scoring      Scoring       `yaml:"scoring"`
	Audit        Audit         `yaml:"audit"`
	Log          Log           `yaml:"log"`

	// File is the path the configuration was read from; relative paths in
	// it are resolved against its directory.
	File string `yaml:"-"`
	// lines maps dotted keys to the line they were written on, for
	// validation errors.
	lines map[string]int
	// fromEnv maps dotted keys whose value came from ${NAME} to NAME:
	// errors never print such values.
	fromEnv map[string]string
	// tableKeys holds, for each of Sync.Tables, the key it was written
	// under (sync.tables[2], sync.extra_tables[0]), or "" for a default
	// table.
	tableKeys []string
}

// Warehouse says where the data goes.
type Warehouse struct {
	Driver       string   `yaml:"driver"`
	Path         string   `yaml:"path"`
	Library      string   `yaml:"library"`
	DSN          string   `yaml:"dsn"`
	CAFile       string   `yaml:"ca_file"`
	Database     string   `yaml:"database"`
	Cluster      string   `yaml:"cluster"`
	MaxConns     int      `yaml:"max_conns"`
	DialTimeout  Duration `yaml:"dial_timeout"`
	QueryTimeout Duration `yaml:"query_timeout"`
}

// Environment is one Dataverse environment and the app registration that
// reads it.
type Environment struct {
	Name            string `yaml:"name"`
	URL             string `yaml:"url"`
	Authority       string `yaml:"authority"`
	TenantID        string `yaml:"tenant_id"`
	ClientID        string `yaml:"client_id"`
	ClientSecret    string `yaml:"client_secret" secret:"true"`
	CertificateFile string `yaml:"certificate_file"`
	KeyFile         string `yaml:"key_file"`
	CAFile          string `yaml:"ca_file"`
	MaxConcurrency  int    `yaml:"max_concurrency"`
}

// Sync says what to read and how hard to push.
type Sync struct {
	Tables         []Table  `yaml:"tables"`
	ExtraTables    []Table  `yaml:"extra_tables"`
	PageSize       int      `yaml:"page_size"`
	MaxWait        Duration `yaml:"max_wait"`
	Overlap        Duration `yaml:"overlap"`
	ParallelTables int      `yaml:"parallel_tables"` // default 6: round trips overlap, but each table loading costs memory (README "Syncing")
	// ParallelRanges caps the createdon ranges a large table's first load
	// reads at once (default 8; 1 reads it in one tracked read).
	ParallelRanges int `yaml:"parallel_ranges"`
	// MemoryBudgetMB bounds the megabytes of pages (response bodies and
	// their decoded rows) the reads of one environment hold at once
	// (default 64, dataverse.DefaultMemoryBudget): more tables or ranges
	// at once wait for it instead of adding pages. A sixteenth of it
	// bounds each INSERT's batch in bytes (connector.Options.BatchBytes),
	// and `ampel sync` sets the Go memory limit from it (twice it and
	// 32 MB) unless GOMEMLIMIT sets one.
	MemoryBudgetMB int `yaml:"memory_budget_mb"`
	// CheckpointEvery is how often a long full load saves where it stands.
	CheckpointEvery Duration `yaml:"checkpoint_every"`
	// Reconcile says how often tables without change tracking have their
	// keys read to find deletes.
	Reconcile Reconcile `yaml:"reconcile"`
}

// Reconcile is when tables without change tracking have every key read
// from the source and the records it no longer has tombstoned: the only
// way their deletes are seen (see package connector).
type Reconcile struct {
	// Every is the least time between two reconciliations of a table under
	// LargeKeys keys; 0 (the default) reconciles on every sync.
	Every Duration `yaml:"every"`
	// LargeKeys is the number of keys from which LargeEvery applies.
	// Default 1000000.
	LargeKeys int `yaml:"large_keys"`
	// LargeEvery is the least time between two reconciliations of a large
	// table. Default 24h.
	LargeEvery Duration `yaml:"large_every"`
}

// Table is one Dataverse table to sync, by logical name. In the file it is
// either a plain name or {name, exclude_columns}.
type Table struct {
	Name           string   `yaml:"name"`
	ExcludeColumns []string `yaml:"exclude_columns"`
}

// Schedule runs a group of tables on a cron schedule (ampel run).
type Schedule struct {
	Name   string   `yaml:"name"`
	Cron   string   `yaml:"cron"`
	Tables []string `yaml:"tables"`
	// Lease is how long a run's hold on its group lasts without renewal
	// (warehouse.driver clickhouse): a second ampel run on the same
	// warehouse takes the group over this long after the holder died.
	// Default DefaultLease; at least MinLease.
	Lease Duration `yaml:"lease"`
}

// DefaultLease is a schedule group's lease when none is set.
const DefaultLease = 2 * time.Minute

// MinLease is the shortest lease: taking one waits about 2s for
// concurrent claims to settle (package schedule/lease).
const MinLease = 3 * time.Second

// Serve configures the OData feed, cockpit and health endpoints.
type Serve struct {
	Addr string `yaml:"addr"`
	// Keys may read the feed; an empty list lets nobody in.
	Keys []Key `yaml:"keys"`
	// KeyParam is the query parameter that may carry a key (Power BI's Web
	// API key credential with ApiKeyName). Default api_key.
	KeyParam string `yaml:"key_param"`
	// PageSize is the feed's page size. Default 5000.
	PageSize int `yaml:"page_size"`
	// TLSCert and TLSKey are PEM files: with them the server speaks HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// InsecureHTTP allows plain HTTP on an address beyond loopback.
	InsecureHTTP bool `yaml:"insecure_http"`
	// SnapshotKeep is how long a published snapshot of the BI marts stays
	// after a newer one, so that a refresh reading it can finish; the last
	// two stay whatever their age. Default 1h.
	SnapshotKeep Duration `yaml:"snapshot_keep"`
}

// Key is one named feed key: the key itself (Key, from ${ENV}) or the hex
// SHA-256 of it.
type Key struct {
	Name   string `yaml:"name"`
	Key    string `yaml:"key" secret:"true"`
	SHA256 string `yaml:"sha256" secret:"true"`
}

// MinKeyLength is the shortest key serve.keys accepts.
const MinKeyLength = 16

// CheckAddr says why the server may not listen on addr: plain HTTP
// (no tls_cert) on an address beyond loopback without insecure_http.
// nil when it may.
func (s Serve) CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port, e.g. 127.0.0.1:8080", addr)
	}
	if s.TLSCert != "" || s.InsecureHTTP || loopback(host) {
		return nil
	}
	return fmt.Errorf("%s would serve plain HTTP beyond this machine: give serve.tls_cert and serve.tls_key, or set serve.insecure_http: true behind a TLS proxy", addr)
}

// loopback reports whether host names this machine only.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// KPIs configures the KPI engine (package kpis).
type KPIs struct {
	// Inputs is the inputs file: go-live dates, licensed users, costs,
	// surveys and the other facts Dataverse does not hold.
	Inputs string `yaml:"inputs"`
	// Dir holds the user's own definitions, <id>/v<N>.sql, beside the built-in ones.
	Dir string `yaml:"dir"`
	// Timezone cuts periods (weeks, months, days after go-live). Default UTC.
	Timezone string `yaml:"timezone"`
	// CriticalFields replaces the default critical fields of the listed
	// tables for the completeness KPIs.
	CriticalFields []CriticalFields `yaml:"critical_fields"`
}

// Marts configures the BI marts (package marts).
type Marts struct {
	// Timezone is the IANA zone the marts' dates (created_date,
	// period_date…) are days in. Default: kpis.timezone.
	Timezone string `yaml:"timezone"`
}

// Scoring configures lead scoring (package kpis/scoring).
type Scoring struct {
	// Dir holds the user's own models, <id>/v<N>.yaml, beside the built-in ones.
	Dir string `yaml:"dir"`
	// Models are the models ampel score run and ampel run score, ID or
	// ID@vN; empty scores the default version of every model.
	Models []string `yaml:"models"`
}

// CriticalFields names the fields of one table that must be filled.
type CriticalFields struct {
	Table  string   `yaml:"table"`
	Fields []string `yaml:"fields"`
}

// Audit configures the data-quality audit (package audit).
type Audit struct {
	// Dir holds the user's own rules, <id>/v<N>.yaml or .sql, beside the built-in ones.
	Dir string `yaml:"dir"`
	// Rules are the rules to run, ID or ID@vN; empty runs the default version of every rule.
	Rules []string `yaml:"rules"`
	// RetentionDays: leads and contacts with no activity for longer are reported. Default 730.
	RetentionDays int `yaml:"retention_days"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// modelRef is a scoring model reference: ID or ID@vN.
var modelRef = regexp.MustCompile(`^[a-z][a-z0-9_]*(@v[1-9][0-9]*)?$`)

// Duration is a time.Duration written as "90s", "5m", "1h30m".
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DefaultTables are the Dataverse tables Ampel syncs unless told otherwise:
// the sales process (leads, opportunities, quotes, orders, invoices and
// their activities), the service cases after go-live, and the users,
// accounts and contacts they refer to.
var DefaultTables = []string{
	"lead", "opportunity", "quote", "salesorder", "invoice",
	"activitypointer", "phonecall", "email", "task", "appointment",
	"incident", "systemuser", "account", "contact",
}

// Error is a problem with the configuration, located in the file.
type Error struct {
	File string
	Line int    // 0 when the key is missing altogether
	Key  string // dotted, e.g. environments[0].client_id
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads, checks and completes the configuration in file. getenv looks
// up ${NAME} references (os.LookupEnv in the binary).
func Load(file string, getenv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(file, data, getenv)
}

// Parse is Load for a file already read.
func Parse(file string, data []byte, getenv func(string) (string, bool)) (*Config, error) {
	c := &Config{File: file, lines: map[string]int{}, fromEnv: map[string]string{}}
	d := decoder{file: file, getenv: getenv, lines: c.lines, fromEnv: c.fromEnv}
	if len(bytes.TrimSpace(data)) == 0 {
		data = nil // an empty file is all defaults
	}
	if err := d.decodeDocument(data, c); err != nil {
		return nil, err
	}
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) setDefaults() {
	w := &c.Warehouse
	if w.Driver == "" {
		w.Driver = "embedded"
	}
	if w.Driver == "embedded" && w.Path == "" {
		w.Path = "warehouse"
	}
	if w.Database == "" {
		w.Database = warehouse.DefaultDatabase
	}
	if w.MaxConns == 0 {
		w.MaxConns = 8
	}
	if w.DialTimeout == 0 {
		w.DialTimeout = Duration(10 * time.Second)
	}
	if w.QueryTimeout == 0 {
		w.QueryTimeout = Duration(10 * time.Minute)
	}
	w.Path = c.resolve(w.Path)
	w.Library = c.resolve(w.Library)
	w.CAFile = c.resolve(w.CAFile)
	for i := range c.Environments {
		e := &c.Environments[i]
		if e.MaxConcurrency == 0 {
			e.MaxConcurrency = 52 // Dataverse's concurrency limit per user; the client adapts below it
		}
		e.CertificateFile = c.resolve(e.CertificateFile)
		e.KeyFile = c.resolve(e.KeyFile)
		e.CAFile = c.resolve(e.CAFile)
		e.URL = strings.TrimRight(e.URL, "/")
	}
	s := &c.Sync
	if s.Tables == nil {
		for _, name := range DefaultTables {
			s.Tables = append(s.Tables, Table{Name: name})
			c.tableKeys = append(c.tableKeys, "")
		}
	} else {
		for i := range s.Tables {
			c.tableKeys = append(c.tableKeys, fmt.Sprintf("sync.tables[%d]", i))
		}
	}
	for i := range s.ExtraTables {
		c.tableKeys = append(c.tableKeys, fmt.Sprintf("sync.extra_tables[%d]", i))
	}
	s.Tables = append(s.Tables, s.ExtraTables...)
	s.ExtraTables = nil
	if s.PageSize == 0 {
		s.PageSize = 5000
	}
	if s.MaxWait == 0 {
		s.MaxWait = Duration(5 * time.Minute)
	}
	if s.Overlap == 0 {
		s.Overlap = Duration(5 * time.Minute)
	}
	if s.ParallelTables == 0 {
		s.ParallelTables = 6
	}
	if s.ParallelRanges == 0 {
		s.ParallelRanges = 8
	}
	if s.MemoryBudgetMB == 0 {
		s.MemoryBudgetMB = 64
	}
	if s.CheckpointEvery == 0 {
		s.CheckpointEvery = Duration(10 * time.Second)
	}
	if s.Reconcile.LargeKeys == 0 {
		s.Reconcile.LargeKeys = 1_000_000
	}
	if s.Reconcile.LargeEvery == 0 {
		s.Reconcile.LargeEvery = Duration(24 * time.Hour)
	}
	if c.Serve.SnapshotKeep == 0 {
		c.Serve.SnapshotKeep = Duration(time.Hour)
	}
	for i := range c.Schedules {
		if c.Schedules[i].Lease == 0 {
			c.Schedules[i].Lease = Duration(DefaultLease)
		}
	}
	if c.Serve.Addr == "" {
		c.Serve.Addr = "127.0.0.1:8080"
	}
	if c.Serve.KeyParam == "" {
		c.Serve.KeyParam = "api_key"
	}
	if c.Serve.PageSize == 0 {
		c.Serve.PageSize = 5000
	}
	c.Serve.TLSCert = c.resolve(c.Serve.TLSCert)
	c.Serve.TLSKey = c.resolve(c.Serve.TLSKey)
	if c.KPIs.Timezone == "" {
		c.KPIs.Timezone = "UTC"
	}
	if c.Marts.Timezone == "" {
		c.Marts.Timezone = c.KPIs.Timezone
	}
	c.KPIs.Inputs = c.resolve(c.KPIs.Inputs)
	c.KPIs.Dir = c.resolve(c.KPIs.Dir)
	c.Scoring.Dir = c.resolve(c.Scoring.Dir)
	c.Audit.Dir = c.resolve(c.Audit.Dir)
	if c.Audit.RetentionDays == 0 {
		c.Audit.RetentionDays = 730
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

// resolve makes a path relative to the config file's directory.
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// errorf makes an *Error at key's line.
func (c *Config) errorf(key, format string, args ...any) error {
	return &Error{File: c.File, Line: c.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// line finds where key, or the nearest enclosing key, was written.
func (c *Config) line(key string) int {
	for k := key; k != ""; {
		if l, ok := c.lines[k]; ok {
			return l
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func (c *Config) validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, c.errorf(key, format, args...)) }

	w := c.Warehouse
	switch w.Driver {
	case "embedded":
		if w.Cluster != "" {
			add("warehouse.cluster", "a cluster needs the clickhouse driver (servers); remove it for the embedded warehouse")
		}
	case "clickhouse":
		if w.Cluster != "" && !warehouse.ValidIdentifier(w.Cluster) {
			add("warehouse.cluster", "%s is not a cluster name (letters, digits, underscore, as in remote_servers)", c.show("warehouse.cluster", w.Cluster))
		}
		if w.DSN == "" {
			add("warehouse.dsn", "required for the clickhouse driver, e.g. clickhouse://user:${CLICKHOUSE_PASSWORD}@host:9000/ampel?secure=true")
		} else if u, err := url.Parse(w.DSN); err != nil || u.Scheme != "clickhouse" || u.Host == "" {
			add("warehouse.dsn", "not a clickhouse://user:pass@host:port/database URL")
		}
	default:
		add("warehouse.driver", "%s is not a driver: use embedded or clickhouse", c.show("warehouse.driver", w.Driver))
	}
	switch {
	case !warehouse.ValidIdentifier(w.Database):
		add("warehouse.database", "%s is not a valid database name (letters, digits, underscore)", c.show("warehouse.database", w.Database))
	case engineDatabase(w.Database):
		add("warehouse.database", "%s is the engine's own database; Ampel needs one of its own, such as ampel (the default)", c.show("warehouse.database", w.Database))
	}
	if w.MaxConns < 1 {
		add("warehouse.max_conns", "must be at least 1")
	}

	names := map[string]bool{}
	for i, e := range c.Environments {
		key := fmt.Sprintf("environments[%d]", i)
		switch {
		case e.Name == "":
			add(key+".name", "required: a short name such as prod")
		case names[e.Name]:
			add(key+".name", "%s is used by another environment", c.show(key+".name", e.Name))
		}
		names[e.Name] = true
		if u, err := url.Parse(e.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			add(key+".url", "%s is not an https URL such as https://contoso.crm4.dynamics.com", c.show(key+".url", e.URL))
		}
		if e.Authority == "" && e.TenantID == "" {
			add(key+".tenant_id", "required (or give authority)")
		}
		if e.Authority != "" {
			if u, err := url.Parse(e.Authority); err != nil || u.Scheme != "https" || u.Host == "" {
				add(key+".authority", "%s is not an https URL such as https://login.microsoftonline.com/<tenant>", c.show(key+".authority", e.Authority))
			} else if t := authorityTenant(u); otherTenant(t, e.TenantID) {
				add(key+".authority", "%s names tenant %s but tenant_id is %s: name one tenant (or leave tenant_id out)",
					c.show(key+".authority", e.Authority), c.show(key+".authority", t), c.show(key+".tenant_id", e.TenantID))
			}
		}
		if e.ClientID == "" {
			add(key+".client_id", "required: the application (client) ID of the app registration")
		}
		hasCert := e.CertificateFile != ""
		switch {
		case e.ClientSecret == "" && !hasCert:
			add(key+".client_secret", "required (or give certificate_file)")
		case e.ClientSecret != "" && hasCert:
			add(key+".certificate_file", "give client_secret or certificate_file, not both")
		}
		if e.KeyFile != "" && !hasCert {
			add(key+".key_file", "needs certificate_file")
		}
		if e.MaxConcurrency < 1 || e.MaxConcurrency > 52 {
			add(key+".max_concurrency", "must be between 1 and 52 (Dataverse allows 52 concurrent requests per user)")
		}
	}

	seen, defaults := map[string]bool{}, map[string]bool{}
	for i, t := range c.Sync.Tables {
		key := c.tableKeys[i]
		if key == "" {
			seen[t.Name], defaults[t.Name] = true, true
			continue
		}
		nameKey := key
		if _, ok := c.lines[key+".name"]; ok {
			nameKey = key + ".name"
		}
		switch {
		case !validLogicalName(t.Name):
			add(nameKey, "%s", c.logicalNameProblem(nameKey, t.Name, "table"))
		case defaults[t.Name]:
			add(nameKey, "%s is a default table already: remove it here", c.show(nameKey, t.Name))
		case seen[t.Name]:
			add(nameKey, "%s is listed twice", c.show(nameKey, t.Name))
		}
		seen[t.Name] = true
		for j, col := range t.ExcludeColumns {
			ckey := fmt.Sprintf("%s.exclude_columns[%d]", key, j)
			if !validLogicalName(col) {
				add(ckey, "%s", c.logicalNameProblem(ckey, col, "column"))
			}
		}
	}
	if p := c.Sync.PageSize; p < 1 || p > 5000 {
		add("sync.page_size", "must be between 1 and 5000 (Dataverse's largest page)")
	}
	if c.Sync.ParallelTables < 1 {
		add("sync.parallel_tables", "must be at least 1")
	}
	if c.Sync.ParallelRanges < 1 {
		add("sync.parallel_ranges", "must be at least 1 (1 reads a table's first load in one read)")
	}
	if m := c.Sync.MemoryBudgetMB; m < 16 || m > 1<<20 {
		add("sync.memory_budget_mb", "must be between 16 and 1048576 megabytes (a full page of a wide table takes 15–35 MB)")
	}
	if rc := c.Sync.Reconcile; rc.LargeKeys < 1 {
		add("sync.reconcile.large_keys", "must be at least 1 (a number of keys)")
	} else if rc.LargeEvery < rc.Every {
		add("sync.reconcile.large_every", "%s is more often than sync.reconcile.every (%s): large tables are reconciled at most as often as small ones",
			time.Duration(rc.LargeEvery), time.Duration(rc.Every))
	}

	groups := map[string]bool{}
	for i, s := range c.Schedules {
		key := fmt.Sprintf("schedules[%d]", i)
		if s.Name == "" {
			add(key+".name", "required")
		} else if groups[s.Name] {
			add(key+".name", "%s is used by another schedule", c.show(key+".name", s.Name))
		}
		groups[s.Name] = true
		if _, err := cron.ParseStandard(s.Cron); err != nil {
			q, why := c.show(key+".cron", s.Cron), " ("+err.Error()+")"
			if q != strconv.Quote(s.Cron) {
				why = "" // the parser's message quotes the value
			}
			add(key+".cron", "%s is not a cron schedule%s; e.g. \"0 * * * *\" or \"@every 15m\"", q, why)
		}
		if s.Lease < Duration(MinLease) {
			add(key+".lease", "%s is shorter than %s: give a lease such as 2m", time.Duration(s.Lease), MinLease)
		}
		for j, t := range s.Tables {
			tkey := fmt.Sprintf("%s.tables[%d]", key, j)
			switch {
			case seen[t]:
			case seen[strings.ToLower(t)] && c.fromEnv[tkey] == "":
				add(tkey, "%s: Dataverse logical names are lower case: write %s", c.show(tkey, t), strings.ToLower(t))
			default:
				add(tkey, "%s is not in sync.tables (nor extra_tables)", c.show(tkey, t))
			}
		}
	}

	if _, err := time.LoadLocation(c.KPIs.Timezone); err != nil {
		add("kpis.timezone", "%q is not a time zone such as UTC or Europe/Berlin", c.KPIs.Timezone)
	}
	// the same zone as kpis.timezone (its default) is checked above
	if _, err := time.LoadLocation(c.Marts.Timezone); err != nil && c.Marts.Timezone != c.KPIs.Timezone {
		add("marts.timezone", "%q is not a time zone such as UTC or Europe/Berlin", c.Marts.Timezone)
	}
	cfTables := map[string]bool{}
	for i, cf := range c.KPIs.CriticalFields {
		key := fmt.Sprintf("kpis.critical_fields[%d]", i)
		switch {
		case !warehouse.ValidIdentifier(cf.Table):
			add(key+".table", "%q is not a table logical name", cf.Table)
		case cfTables[cf.Table]:
			add(key+".table", "%q is listed twice", cf.Table)
		}
		cfTables[cf.Table] = true
		if len(cf.Fields) == 0 {
			add(key+".fields", "required: the columns that must be filled")
		}
		for j, f := range cf.Fields {
			if !warehouse.ValidIdentifier(f) {
				add(fmt.Sprintf("%s.fields[%d]", key, j), "%q is not a column logical name", f)
			}
		}
	}

	for i, m := range c.Scoring.Models {
		key := fmt.Sprintf("scoring.models[%d]", i)
		if !modelRef.MatchString(m) {
			add(key, "%q is not a model: write ID or ID@vN, e.g. demo@v1", m)
		}
	}
	if c.Audit.RetentionDays < 0 {
		add("audit.retention_days", "%s is not a number of days: give 1 or more", c.show("audit.retention_days", strconv.Itoa(c.Audit.RetentionDays)))
	}
	for i, r := range c.Audit.Rules {
		id, _, _ := strings.Cut(r, "@")
		if !warehouse.ValidIdentifier(id) || strings.ToLower(id) != id {
			add(fmt.Sprintf("audit.rules[%d]", i), "%s is not a rule reference: write ID or ID@vN, e.g. invalid_email@v1", c.show(fmt.Sprintf("audit.rules[%d]", i), r))
		}
	}

	c.validateServe(add)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%s is not a level: use debug, info, warn or error", c.show("log.level", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "%s is not a format: use text or json", c.show("log.format", c.Log.Format))
	}
	return errors.Join(errs...)
}

// validateServe checks the serve section.
func (c *Config) validateServe(add func(key, format string, args ...any)) {
	sv := c.Serve
	if err := sv.CheckAddr(sv.Addr); err != nil {
		add("serve.addr", "%s", err.Error())
	}
	if (sv.TLSCert == "") != (sv.TLSKey == "") {
		add("serve.tls_key", "give tls_cert and tls_key together")
	}
	if sv.PageSize < 1 || sv.PageSize > 100000 {
		add("serve.page_size", "must be between 1 and 100000")
	}
	if !warehouse.ValidIdentifier(sv.KeyParam) {
		add("serve.key_param", "%s is not a query parameter name (letters, digits, underscore)", c.show("serve.key_param", sv.KeyParam))
	}
	names := map[string]bool{}
	for i, k := range sv.Keys {
		key := fmt.Sprintf("serve.keys[%d]", i)
		switch {
		case k.Name == "":
			add(key+".name", "required: a name for who uses the key, e.g. powerbi")
		case names[k.Name]:
			add(key+".name", "%s is used by another key", c.show(key+".name", k.Name))
		}
		names[k.Name] = true
		switch {
		case k.Key == "" && k.SHA256 == "":
			add(key+".key", "required: the key as ${ENV}, or its sha256")
		case k.Key != "" && k.SHA256 != "":
			add(key+".sha256", "give key or sha256, not both")
		case k.Key != "" && len(k.Key) < MinKeyLength:
			add(key+".key", "the key is shorter than %d characters: make a longer one, e.g. openssl rand -hex 24", MinKeyLength)
		case k.SHA256 != "" && !sha256Hex(k.SHA256):
			add(key+".sha256", "not 64 hex digits: write the output of printf %%s KEY | sha256sum")
		}
	}
}

// sha256Hex reports whether s is 64 hex digits.
func sha256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// authorityTenant is the tenant an authority URL names: its first path
// segment ("" when it has none).
func authorityTenant(u *url.URL) string {
	t, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	return t
}

// otherTenant reports whether the tenant of an authority and tenant_id
// surely name two tenants: both are GUIDs, or both domain names, and they
// differ. A GUID beside a domain name (contoso.onmicrosoft.com) may be the
// same tenant; Entra ID tells.
func otherTenant(authority, tenantID string) bool {
	if authority == "" || tenantID == "" || strings.EqualFold(authority, tenantID) {
		return false
	}
	return isGUID(authority) == isGUID(tenantID)
}

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

// engineDatabase reports whether name is one of the engine's own
// databases, whose tables Ampel must never create or drop.
func engineDatabase(name string) bool {
	switch strings.ToLower(name) {
	case "system", "information_schema", "_temporary_and_external_tables":
		return true
	}
	return false
}

// validLogicalName reports whether s is a Dataverse logical name: lower
// case letters, digits and underscores, starting with a letter or
// underscore.
func validLogicalName(s string) bool {
	return warehouse.ValidIdentifier(s) && s == strings.ToLower(s)
}

// logicalNameProblem says what is wrong with name, the invalid logical
// name of a table or column (what) given at key.
func (c *Config) logicalNameProblem(key, name, what string) string {
	q := c.show(key, name)
	if lower := strings.ToLower(name); lower != name && warehouse.ValidIdentifier(name) && c.fromEnv[key] == "" {
		return fmt.Sprintf("%s: Dataverse logical names are lower case: write %s", q, lower)
	}
	return fmt.Sprintf("%s is not a %s logical name (lower case letters, digits and underscores)", q, what)
}

// TableNames lists the configured tables' logical names.
func (c *Config) TableNames() []string {
	names := make([]string, len(c.Sync.Tables))
	for i, t := range c.Sync.Tables {
		names[i] = t.Name
	}
	return names
}

// Environment finds an environment by name.
func (c *Config) Environment(name string) (Environment, bool) {
	for _, e := range c.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// WarehouseConfig is the warehouse section as the warehouse package takes it.
func (c *Config) WarehouseConfig() warehouse.Config {
	w := c.Warehouse
	return warehouse.Config{
		Driver:       w.Driver,
		DSN:          w.DSN,
		CAFile:       w.CAFile,
		Path:         w.Path,
		Library:      w.Library,
		Database:     w.Database,
		Cluster:      w.Cluster,
		MaxConns:     w.MaxConns,
		DialTimeout:  w.DialTimeout.D(),
		QueryTimeout: w.QueryTimeout.D(),
	}
}
