package dataverse_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/connector/schema"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
	"github.com/stretchr/testify/require"
)

func startSim(t testing.TB, opts dvsim.Options) *dvsim.Server {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	s, err := dvsim.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func simConfig(s *dvsim.Server) dataverse.Config {
	return dataverse.Config{
		URL: s.URL(), Authority: s.Authority(), TenantID: s.TenantID(), ClientID: s.ClientID(), ClientSecret: s.ClientSecret(),
		HTTPClient: s.Client(), RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 200 * time.Millisecond, MaxWait: 30 * time.Second,
	}
}

func simClient(t testing.TB, s *dvsim.Server, mod func(*dataverse.Config)) *dataverse.Client {
	t.Helper()
	cfg := simConfig(s)
	if mod != nil {
		mod(&cfg)
	}
	c, err := dataverse.New(context.Background(), cfg)
	require.NoError(t, err)
	return c
}

// readAll reads every page of q and returns records (as rows of m) and deletions.
func readAll(t testing.TB, c *dataverse.Client, q dataverse.Query, m *schema.Mapping) (rows map[string][]any, deleted []dataverse.Deleted, last *dataverse.Page) {
	t.Helper()
	ctx := context.Background()
	r := c.Read(ctx, q)
	defer r.Close()
	rows = map[string][]any{}
	types := make([]*warehouse.Type, 0)
	for _, col := range m.Columns() {
		typ, err := warehouse.ParseType(col.Type)
		require.NoError(t, err)
		types = append(types, typ)
	}
	for {
		p, err := r.Next(ctx)
		if err == io.EOF {
			return rows, deleted, last
		}
		require.NoError(t, err)
		last = p
		for i := range p.Records {
			row, err := m.Row(&p.Records[i], nil)
			require.NoError(t, err)
			for j, v := range row {
				_, err := warehouse.Coerce(types[j], v)
				require.NoError(t, err, "%s.%s = %#v", m.Table, m.Columns()[j].Name, v)
			}
			key, ok := row[0].(uuid.UUID)
			require.True(t, ok, "the primary key comes first")
			rows[key.String()] = row
		}
		deleted = append(deleted, p.Deleted...)
	}
}

var simTables = []string{"lead", "opportunity", "quote", "salesorder", "invoice", "activitypointer", "phonecall", "incident", "systemuser", "account", "contact"}

func TestSimAllTablesFullAndDelta(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 300})
	c := simClient(t, s, func(cfg *dataverse.Config) { cfg.PageSize = 97 })
	ctx := context.Background()
	who, err := c.WhoAmI(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, who.UserID)

	links := map[string]string{}
	maps := map[string]*schema.Mapping{}
	for _, name := range simTables {
		e, err := c.EntityDefinition(ctx, name)
		require.NoError(t, err, name)
		m, err := schema.Map(e, schema.Options{})
		require.NoError(t, err, name)
		maps[name] = m
		rows, _, last := readAll(t, c, dataverse.Query{EntitySet: e.EntitySetName, Select: m.Select(), TrackChanges: true}, m)
		require.Len(t, rows, len(s.Records(name)), name)
		require.NotEmpty(t, last.DeltaLink, name)
		links[name] = last.DeltaLink
		// lookup names and choice labels arrive
		if name == "lead" {
			cols := m.Columns()
			idx := func(n string) int {
				for i, c := range cols {
					if c.Name == n {
						return i
					}
				}
				t.Fatalf("no column %s", n)
				return -1
			}
			for _, row := range rows {
				require.NotNil(t, row[idx("statecodename")])
				require.NotNil(t, row[idx("owneridname")])
				require.Contains(t, []any{"systemuser", "team"}, row[idx("owneridtype")])
				break
			}
		}
	}
	n, err := c.RecordCount(ctx, "lead")
	require.NoError(t, err)
	require.EqualValues(t, len(s.Records("lead")), n)

	mut := s.Mutate(5, 10, 3)
	for _, name := range []string{"lead", "opportunity", "contact", "activitypointer"} {
		rows, deleted, last := readAll(t, c, dataverse.Query{EntitySet: maps[name].EntitySet, DeltaLink: links[name]}, maps[name])
		for _, id := range mut.Created[name] {
			require.Contains(t, rows, id, name)
		}
		for _, id := range mut.Updated[name] {
			require.Contains(t, rows, id, name)
		}
		var delIDs []string
		for _, d := range deleted {
			delIDs = append(delIDs, d.ID)
		}
		require.ElementsMatch(t, mut.Deleted[name], delIDs, name)
		require.NotEqual(t, links[name], last.DeltaLink)
	}
	t.Logf("client stats: %+v", c.Stats())
}

func TestSimThrottlingAndFaults(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 2000})
	s.SetThrottle(dvsim.Throttle{Requests: 10, Window: 2 * time.Second, RetryAfter: 200 * time.Millisecond})
	s.SetFaults(dvsim.Faults{ErrorRate: 0.1, DropRate: 0.05})
	c := simClient(t, s, func(cfg *dataverse.Config) { cfg.PageSize = 200 })
	ctx := context.Background()
	e, err := c.EntityDefinition(ctx, "lead")
	require.NoError(t, err)
	m, err := schema.Map(e, schema.Options{})
	require.NoError(t, err)
	rows, _, _ := readAll(t, c, dataverse.Query{EntitySet: e.EntitySetName, Select: m.Select()}, m)
	require.Len(t, rows, len(s.Records("lead")))
	st := c.Stats()
	t.Logf("client %+v, sim %+v", st, s.Stats())
	require.Positive(t, st.Retries)
	require.Positive(t, st.Throttled)
}

func TestSimExpiredDeltaAndNoTracking(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 100, Faults: dvsim.Faults{NoChangeTracking: []string{"incident"}}})
	c := simClient(t, s, nil)
	ctx := context.Background()
	e, err := c.EntityDefinition(ctx, "lead")
	require.NoError(t, err)
	m, err := schema.Map(e, schema.Options{})
	require.NoError(t, err)
	_, _, last := readAll(t, c, dataverse.Query{EntitySet: "leads", Select: m.Select(), TrackChanges: true}, m)
	s.ExpireDeltaTokens()
	r := c.Read(ctx, dataverse.Query{EntitySet: "leads", DeltaLink: last.DeltaLink})
	_, err = r.Next(ctx)
	r.Close()
	require.ErrorIs(t, err, dataverse.ErrDeltaTokenExpired)
	t.Log(err)

	inc, err := c.EntityDefinition(ctx, "incident")
	require.NoError(t, err)
	require.False(t, inc.ChangeTrackingEnabled)
	r = c.Read(ctx, dataverse.Query{EntitySet: inc.EntitySetName, Select: []string{"incidentid"}, TrackChanges: true})
	_, err = r.Next(ctx)
	r.Close()
	require.ErrorIs(t, err, dataverse.ErrChangeTrackingDisabled)
	t.Log(err)

	// the watermark fallback reads it all, ordered by modifiedon
	mi, err := schema.Map(inc, schema.Options{})
	require.NoError(t, err)
	rows, _, _ := readAll(t, c, dataverse.WatermarkQuery(inc.EntitySetName, inc.PrimaryIDAttribute, mi.Select(), time.Time{}), mi)
	require.Len(t, rows, len(s.Records("incident")))
}

func TestSimAuthErrors(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 100})
	for name, tc := range map[string]struct {
		mod  func(*dataverse.Config)
		kind error
	}{
		"wrong secret":   {func(c *dataverse.Config) { c.ClientSecret = "nope-nope" }, dataverse.ErrBadSecret},
		"unknown client": {func(c *dataverse.Config) { c.ClientID = "99999999-9999-9999-9999-999999999999" }, dataverse.ErrUnknownClient},
	} {
		c := simClient(t, s, tc.mod)
		_, err := c.WhoAmI(context.Background())
		require.ErrorIs(t, err, tc.kind, name)
		require.NotContains(t, err.Error(), "nope-nope")
		t.Log(err)
	}
}

func TestSimCertificateAuth(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 100})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ampel"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	s.AddCertificate(s.ClientID(), cert)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600))
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, s.CACertPEM(), 0o600))

	c := simClient(t, s, func(cfg *dataverse.Config) {
		cfg.ClientSecret, cfg.CertificateFile, cfg.KeyFile = "", certFile, keyFile
		cfg.HTTPClient, cfg.CAFile = nil, caFile // trust the simulator through CAFile
	})
	_, err = c.WhoAmI(context.Background())
	require.NoError(t, err)
}

// TestSimShortLivedTokensRenew: the simulator issues short-lived tokens;
// the client keeps each for 80 % of its lifetime, renews it ahead of
// expiry, and when the server refuses the token on many requests at once,
// renews it once; Stats.Retries counts exactly the requests sent again.
func TestSimShortLivedTokensRenew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := startSim(t, dvsim.Options{Scale: 100, TokenLifetime: 4 * time.Minute})
	c := simClient(t, s, nil)
	for range 3 {
		_, err := c.WhoAmI(ctx)
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, s.Stats().TokensIssued, "a 4-minute token is not renewed per request")

	// 10 s: the token's exp claim is in whole seconds, so it may end up to
	// a second early; renewal comes at 8 s
	short := startSim(t, dvsim.Options{Scale: 100, TokenLifetime: 10 * time.Second})
	c = simClient(t, short, nil)
	calls := 0
	require.Eventually(t, func() bool {
		calls++
		_, err := c.WhoAmI(ctx)
		require.NoError(t, err)
		return short.Stats().TokensIssued == 2
	}, 20*time.Second, 100*time.Millisecond)
	require.Greater(t, calls, 2)
	require.Zero(t, short.Stats().Errors, "renewed before the server refused it")

	// every token refused at once: one renewal for all the requests
	c = simClient(t, s, nil)
	_, err := c.WhoAmI(ctx)
	require.NoError(t, err)
	issued, before, errs := s.Stats().TokensIssued, c.Stats(), s.Stats().Errors
	s.ExpireTokens()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := c.WhoAmI(ctx)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, issued+1, s.Stats().TokensIssued, "one renewal for ten refused requests")
	// a request that started after the renewal was not refused
	d := c.Stats().Sub(before)
	require.Positive(t, d.Retries)
	require.Equal(t, d.Requests-10, d.Retries, "each refused request sent again once, and counted once")
	require.Equal(t, s.Stats().Errors-errs, d.Retries, "the 401s")
}

func TestSimAddedColumnAppears(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 100})
	c := simClient(t, s, nil)
	ctx := context.Background()
	e, err := c.EntityDefinition(ctx, "opportunity")
	require.NoError(t, err)
	before, err := schema.Map(e, schema.Options{})
	require.NoError(t, err)
	require.NoError(t, s.AddColumn("opportunity", "new_region", "Picklist"))
	require.NoError(t, s.AddColumn("opportunity", "new_margin", "Money"))
	e, err = c.EntityDefinition(ctx, "opportunity")
	require.NoError(t, err)
	after, err := schema.Map(e, schema.Options{})
	require.NoError(t, err)
	_, added, err := landing.Diff("landing_opportunity", before.Columns(), after.Columns())
	require.NoError(t, err)
	var names []string
	for _, a := range added {
		names = append(names, a.Name+" "+a.Type)
	}
	require.ElementsMatch(t, []string{"new_region Nullable(Int32)", "new_regionname Nullable(String)", "new_margin Nullable(Decimal(19, 4))"}, names)
	rows, _, _ := readAll(t, c, dataverse.Query{EntitySet: e.EntitySetName, Select: after.Select()}, after)
	require.Len(t, rows, len(s.Records("opportunity")))
}

// A table's metadata is read in full once per global metadata version:
// while the schema stays, a later read costs the one request that carries
// the version; a column added or change tracking switched reads it again.
func TestSimMetadataCachedByVersion(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 50})
	c := simClient(t, s, nil)
	ctx := context.Background()
	read := func() (*dataverse.Entity, int64) {
		before := s.Stats().Requests
		e, err := c.EntityDefinition(ctx, "lead")
		require.NoError(t, err)
		return e, s.Stats().Requests - before
	}
	first, n := read()
	require.Greater(t, n, int64(2), "the first read asks for the attributes and their details")
	again, n := read()
	require.Equal(t, int64(1), n, "an unchanged schema costs one request")
	require.Equal(t, first, again)

	require.NoError(t, s.AddColumn("lead", "new_cachetest", "Picklist"))
	added, n := read()
	require.Greater(t, n, int64(2), "a schema change reads everything again")
	require.NotNil(t, added.Attribute("new_cachetest"))
	label, ok := added.Attribute("new_cachetest").Label(100000001)
	require.True(t, ok)
	require.Equal(t, "Option B", label)

	require.NoError(t, s.SetChangeTracking("lead", false))
	off, n := read()
	require.Greater(t, n, int64(2))
	require.False(t, off.ChangeTrackingEnabled)

	// another client of the same environment has its own cache
	other := simClient(t, s, nil)
	before := s.Stats().Requests
	_, err := other.EntityDefinition(ctx, "lead")
	require.NoError(t, err)
	require.Greater(t, s.Stats().Requests-before, int64(2))
}

func TestSimCheckTable(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 100, Faults: dvsim.Faults{NoChangeTracking: []string{"incident"}}})
	c := simClient(t, s, nil)
	for _, name := range simTables {
		e, err := c.CheckTable(context.Background(), name)
		require.NoError(t, err, name)
		require.Equal(t, name != "incident", e.ChangeTrackingEnabled, name)
	}
	_, err := c.CheckTable(context.Background(), "nosuchtable")
	require.ErrorIs(t, err, dataverse.ErrNotFound)
	t.Log(err)
}

// A page released once its rows are copied hands its memory to the next
// page; what the read returns stays the same, and the links stay valid.
func TestSimReleasedPages(t *testing.T) {
	t.Parallel()
	s := startSim(t, dvsim.Options{Scale: 300})
	c := simClient(t, s, func(cfg *dataverse.Config) { cfg.PageSize = 40 })
	ctx := context.Background()
	e, err := c.EntityDefinition(ctx, "lead")
	require.NoError(t, err)
	m, err := schema.Map(e, schema.Options{})
	require.NoError(t, err)
	q := dataverse.Query{EntitySet: e.EntitySetName, Select: m.Select(), TrackChanges: true}
	want, _, _ := readAll(t, c, q, m) // pages never released

	r := c.Read(ctx, q)
	defer r.Close()
	got := map[string][]any{}
	link, pages := "", 0
	for {
		p, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		pages++
		for i := range p.Records {
			row, err := m.Row(&p.Records[i], nil)
			require.NoError(t, err)
			for j, v := range row {
				switch x := v.(type) {
				case string:
					row[j] = strings.Clone(x)
				case []string:
					cl := slices.Clone(x)
					for k := range cl {
						cl[k] = strings.Clone(cl[k])
					}
					row[j] = cl
				}
			}
			key, ok := row[0].(uuid.UUID)
			require.True(t, ok, "the primary key comes first")
			got[key.String()] = row
		}
		p.Release()
		require.Nil(t, p.Records, "Release drops the records")
		link = p.DeltaLink // read after Release: links stay valid
	}
	require.Greater(t, pages, 3)
	require.Equal(t, want, got)
	require.NotEmpty(t, link)

	again, _, _ := readAll(t, c, q, m) // reuses the released memory
	require.Equal(t, want, again)
	mut := s.Mutate(2, 0, 0)
	changed, _, _ := readAll(t, c, dataverse.Query{EntitySet: e.EntitySetName, DeltaLink: link}, m)
	require.Len(t, changed, len(mut.Created["lead"]), "the delta link saved after Release works")
}
