package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// testKey is the feed key of the tests' servers.
const testKey = "k3y-for-the-feed-tests-0123456789"

// lead is one row of the fixture's mart_leads: the truth the feed's
// answers are compared with.
type lead struct {
	id       uuid.UUID
	name     string
	email    *string
	revenue  decimal.Decimal
	created  time.Time // a date
	modified time.Time // a date-time
	score    int64
	active   bool
	rating   float64
	owner    *uuid.UUID
}

// makeLeads makes n leads, varied: NULLs, quotes, wildcards, unicode,
// equal values in the order columns, dates on both sides of midnight.
func makeLeads(n int, salt string) []lead {
	names := []string{"Smith", "O'Brien", "100% Müller", "a_b", `back\slash`, "Zoë", "smith", "Ångström"}
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	out := make([]lead, n)
	for i := range out {
		l := lead{
			id:       uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("lead-%d", i))),
			name:     names[i%len(names)] + salt,
			revenue:  decimal.New(int64(i*1234%100000), -2),
			created:  base.AddDate(0, 0, i%40),
			modified: base.Add(time.Duration(i*7919%(90*24*3600)) * time.Second),
			score:    int64(i%17) - 5,
			active:   i%3 == 0,
			rating:   float64(i%11) / 4,
		}
		if i%4 != 0 {
			e := fmt.Sprintf("lead%d@example.com", i)
			l.email = &e
		}
		if i%5 != 0 {
			o := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("owner-%d", i%6)))
			l.owner = &o
		}
		out[i] = l
	}
	return out
}

// fixture is a warehouse with mart tables of several snapshots and the
// Marts the feed reads them through.
type fixture struct {
	st    warehouse.Store
	cfg   warehouse.Config
	leads map[uint64][]lead // by snapshot
	empty bool
}

func leadColumns(d warehouse.Dialect) []warehouse.Column {
	return []warehouse.Column{
		{Name: "lead_id", Type: "UUID"},
		{Name: "name", Type: "String"},
		{Name: "email", Type: "Nullable(String)"},
		{Name: "revenue", Type: "Decimal(18, 2)"},
		{Name: "created", Type: "Date"},
		{Name: "modified", Type: "DateTime('UTC')"},
		{Name: "score", Type: "Int64"},
		{Name: "active", Type: d.Bool()},
		{Name: "rating", Type: "Float64"},
		{Name: "owner_id", Type: "Nullable(UUID)"},
		{Name: "_snapshot", Type: "UInt64"},
	}
}

func newFixture(t *testing.T, cfg warehouse.Config) *fixture {
	st := warehousetest.Open(t, cfg)
	f := &fixture{st: st, cfg: cfg, leads: map[uint64][]lead{}}
	var defs []string
	for _, c := range leadColumns(st.Dialect()) {
		defs = append(defs, c.Name+" "+c.Type)
	}
	warehousetest.Exec(t, st, "CREATE TABLE mart_snapshots (snapshot UInt64, published_at DateTime, reason String) ENGINE = MergeTree ORDER BY snapshot")
	warehousetest.Exec(t, st, "CREATE TABLE mart_leads ("+strings.Join(defs, ", ")+") ENGINE = MergeTree PARTITION BY _snapshot ORDER BY (_snapshot, lead_id)")
	warehousetest.Exec(t, st, "CREATE TABLE mart_empty (id Int64, _snapshot UInt64) ENGINE = MergeTree PARTITION BY _snapshot ORDER BY (_snapshot, id)")
	return f
}

// publish writes leads as snapshot n and makes it current.
func (f *fixture) publish(t *testing.T, n uint64, leads []lead) {
	ctx := warehousetest.Context(t)
	cols := leadColumns(f.st.Dialect())
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	b, err := f.st.PrepareInsert(ctx, "mart_leads", names)
	require.NoError(t, err)
	for _, l := range leads {
		var email, owner any
		if l.email != nil {
			email = *l.email
		}
		if l.owner != nil {
			owner = *l.owner
		}
		require.NoError(t, b.Append(l.id, l.name, email, l.revenue, l.created, l.modified, l.score, l.active, l.rating, owner, n))
	}
	require.NoError(t, b.Send(ctx))
	require.NoError(t, f.st.Exec(ctx, "INSERT INTO mart_snapshots (snapshot, published_at, reason) VALUES (?, ?, 'test')", n, time.Now().UTC().Truncate(time.Second)))
	f.leads[n] = leads
}

// drop removes snapshot n, as the publisher does once no reader may need it.
func (f *fixture) drop(t *testing.T, n uint64) {
	warehousetest.Exec(t, f.st, fmt.Sprintf("ALTER TABLE mart_leads DROP PARTITION %d", n))
}

// marts is the fixture's serve.Marts: the pointer table's newest snapshot.
type marts struct{ f *fixture }

func (m marts) Current(ctx context.Context) (uint64, error) {
	rows, err := m.f.st.Query(ctx, "SELECT max(snapshot) FROM mart_snapshots")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	if rows.Next() {
		err = rows.Scan(&n)
	}
	return n, err
}

func (m marts) Sets(ctx context.Context) ([]serve.EntitySet, error) {
	ctx = context.WithoutCancel(ctx)
	leads, err := warehouse.TableColumns(ctx, m.f.st, "mart_leads")
	if err != nil {
		return nil, err
	}
	empty, err := warehouse.TableColumns(ctx, m.f.st, "mart_empty")
	if err != nil {
		return nil, err
	}
	return []serve.EntitySet{
		{Name: "leads", Key: []string{"lead_id"}, Columns: leads, Description: "leads"},
		{Name: "empty", Key: []string{"id"}, Columns: empty},
	}, nil
}

func (m marts) Table(set string) string { return "mart_" + set }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a running feed over real HTTP.
type testServer struct {
	url  string
	log  *syncBuffer
	stop func()
	srv  *serve.Server
}

func startServer(t *testing.T, f *fixture, o serve.Options) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	o.Store = f.st
	if o.Marts == nil {
		o.Marts = marts{f}
	}
	if o.Keys == nil {
		o.Keys = []serve.Key{serve.KeyFromSecret("tests", testKey)}
	}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := serve.New(o)
	require.NoError(t, err)
	ln, err := serve.Listen("127.0.0.1:0", "", "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	ts := &testServer{url: "http://" + ln.Addr().String(), log: logs, srv: s}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	ts.stop = func() {
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			ts.stop()
		}
	})
	return ts
}

// response is one answer of the feed.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get sends a GET with the test key as the Basic password, as Power BI's
// Basic credential does, and Power BI's request headers.
func get(t *testing.T, url string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", "Microsoft.Data.Mashup")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("MaxDataServiceVersion", "3.0")
	req.Header.Set("Accept", "application/json;odata.metadata=minimal;q=1.0, application/json;odata=minimalmetadata;q=0.9, application/atomsvc+xml;q=0.8, application/atom+xml;q=0.8, application/xml;q=0.7, text/plain;q=0.7")
	req.SetBasicAuth("powerbi", testKey)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Authorization" && hdr[i+1] == "" {
			req.Header.Del("Authorization")
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header, body}
}

// page is a decoded collection response.
type page struct {
	Context  string           `json:"@odata.context"`
	Count    *int64           `json:"@odata.count"`
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"@odata.nextLink"`
}

func decodePage(t *testing.T, r response) page {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var p page
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	require.NoError(t, d.Decode(&p), "%s", r.body)
	return p
}

// odataError decodes an OData error body and checks the status.
func odataError(t *testing.T, r response, status int) string {
	t.Helper()
	require.Equal(t, status, r.status, "%s", r.body)
	require.Equal(t, []string{"4.0"}, r.header.Values("OData-Version"))
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.body, &e), "%s", r.body)
	require.NotEmpty(t, e.Error.Message)
	return e.Error.Message
}

// freePort is a loopback address nobody listens on.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
