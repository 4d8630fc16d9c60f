package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	file := filepath.Join("testdata", "good.yaml")
	c, err := Load(file, env(map[string]string{"CH_PASSWORD": "p@ss", "AMPEL_CLIENT_SECRET": "s3cret"}))
	require.NoError(t, err)

	require.Equal(t, "clickhouse", c.Warehouse.Driver)
	require.Equal(t, "clickhouse://ampel:p@ss@db.example.com:9440/ampel?secure=true", c.Warehouse.DSN)
	require.Equal(t, filepath.Join("testdata", "certs", "ca.pem"), c.Warehouse.CAFile)
	require.Equal(t, 2*time.Minute, c.Warehouse.QueryTimeout.D())
	require.Equal(t, 10*time.Second, c.Warehouse.DialTimeout.D(), "default")
	require.Equal(t, "ampel", c.Warehouse.Database, "default")

	require.Len(t, c.Environments, 2)
	require.Equal(t, "https://contoso.crm4.dynamics.com", c.Environments[0].URL, "trailing slash trimmed")
	require.Equal(t, "s3cret", c.Environments[0].ClientSecret)
	require.Equal(t, filepath.Join("testdata", "certs", "app.pem"), c.Environments[1].CertificateFile)
	require.Equal(t, 52, c.Environments[1].MaxConcurrency, "default")

	names := c.TableNames()
	require.Equal(t, append(append([]string{}, DefaultTables...), "new_project", "new_milestone"), names)
	require.Equal(t, []string{"new_notes"}, c.Sync.Tables[len(names)-1].ExcludeColumns)
	require.Equal(t, 1000, c.Sync.PageSize)
	require.Equal(t, "json", c.Log.Format)
	require.Equal(t, filepath.Join("testdata", "models"), c.Scoring.Dir, "relative to the file")
	require.Equal(t, []string{"demo@v1"}, c.Scoring.Models)

	wc := c.WarehouseConfig()
	require.Equal(t, 4, wc.MaxConns)
	require.Equal(t, c.Warehouse.DSN, wc.DSN)
}

func TestEmptyFileIsDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse("/etc/ampel/ampel.yaml", nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, "embedded", c.Warehouse.Driver)
	require.Equal(t, "/etc/ampel/warehouse", c.Warehouse.Path)
	require.Equal(t, DefaultTables, c.TableNames())
	require.Equal(t, "127.0.0.1:8080", c.Serve.Addr)
	require.Equal(t, 10*time.Second, c.Sync.CheckpointEvery.D())
	require.Equal(t, Reconcile{LargeKeys: 1_000_000, LargeEvery: Duration(24 * time.Hour)}, c.Sync.Reconcile, "every sync under a million keys, daily above")
	require.Equal(t, "UTC", c.KPIs.Timezone)
	require.Equal(t, "UTC", c.Marts.Timezone, "kpis.timezone's default")
	require.Empty(t, c.Scoring.Models, "every model")
}

// TestMartsTimezone: the marts' dates follow kpis.timezone unless
// marts.timezone says otherwise.
func TestMartsTimezone(t *testing.T) {
	t.Parallel()
	c, err := Parse("/etc/ampel/ampel.yaml", []byte("kpis:\n  timezone: Europe/Berlin\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, "Europe/Berlin", c.Marts.Timezone, "kpis.timezone")
	c, err = Parse("/etc/ampel/ampel.yaml", []byte("kpis:\n  timezone: Europe/Berlin\nmarts:\n  timezone: America/New_York\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, "America/New_York", c.Marts.Timezone)
	require.Equal(t, "Europe/Berlin", c.KPIs.Timezone)
}

func TestDecodeYAML(t *testing.T) {
	t.Parallel()
	type item struct {
		Name  string  `yaml:"name"`
		Share float64 `yaml:"share"`
	}
	var v struct {
		Items []item `yaml:"items"`
	}
	require.NoError(t, DecodeYAML("in.yaml", []byte("items:\n  - name: a\n    share: 0.25\n"), &v, nil))
	require.Equal(t, []item{{"a", 0.25}}, v.Items)
	err := DecodeYAML("in.yaml", []byte("items:\n  - name: a\n    share: lots\n"), &v, nil)
	require.EqualError(t, err, `in.yaml:3: items[0].share: "lots" is not a number`)
	err = DecodeYAML("in.yaml", []byte("items:\n  - nme: a\n"), &v, nil)
	require.EqualError(t, err, `in.yaml:2: items[0].nme: unknown key; known keys here: name, share`)
}

func TestLoadBad(t *testing.T) {
	t.Parallel()
	// Each bad file must fail with an error naming the file, the line and
	// the key, and saying what is wrong.
	cases := map[string]string{
		"unknown_key":     "unknown_key.bad.yaml:3: warehouse.pth: unknown key; known keys here: driver, path,",
		"bad_int":         `bad_int.bad.yaml:2: warehouse.max_conns: "lots" is not a whole number`,
		"bad_driver":      `bad_driver.bad.yaml:2: warehouse.driver: "postgres" is not a driver: use embedded or clickhouse`,
		"missing_env":     "missing_env.bad.yaml:6: environments[0].client_secret: environment variable AMPEL_TEST_UNSET_SECRET is not set",
		"no_secret":       "no_secret.bad.yaml:2: environments[0].client_secret: required (or give certificate_file)",
		"bad_cron":        `bad_cron.bad.yaml:3: schedules[0].cron: "every hour" is not a cron schedule`,
		"bad_duration":    `bad_duration.bad.yaml:2: sync.max_wait: "forever" is not a duration`,
		"http_url":        `http_url.bad.yaml:3: environments[0].url: "http://contoso.crm4.dynamics.com" is not an https URL`,
		"not_yaml":        "not_yaml.bad.yaml:1: not valid YAML: did not find expected ',' or ']'",
		"unknown_table":   `unknown_table.bad.yaml:4: schedules[0].tables[1]: "leed" is not in sync.tables`,
		"list_for_scalar": "list_for_scalar.bad.yaml:2: log.level: want a single value, not a list",
		// config that would lose or leak data
		"engine_database": `engine_database.bad.yaml:4: warehouse.database: "system" is the engine's own database; Ampel needs one of its own, such as ampel`,
		"table_case":      `table_case.bad.yaml:3: sync.tables[1]: "Opportunity": Dataverse logical names are lower case: write opportunity`,
		"exclude_case":    `exclude_case.bad.yaml:4: sync.tables[0].exclude_columns[1]: "Telephone1": Dataverse logical names are lower case: write telephone1`,
		"schedule_case":   `schedule_case.bad.yaml:4: schedules[0].tables[0]: "Lead": Dataverse logical names are lower case: write lead`,
		// errors name the key the user wrote
		"extra_table_key": `extra_table_key.bad.yaml:4: sync.extra_tables[1]: "new project" is not a table logical name`,
		"extra_default":   `extra_default.bad.yaml:2: sync.extra_tables[1]: "lead" is a default table already: remove it here`,
		// values that may be secrets are not echoed
		"secret_from_env": "secret_from_env.bad.yaml:7: environments[0].max_concurrency: the value from ${AMPEL_TEST_SECRET} is not a whole number",
		"secret_pasted":   "secret_pasted.bad.yaml:7: environments[0].max_concurrency: the value (not shown) is not a whole number",
		"tab":             "tab.bad.yaml:4: a tab character indents this line; YAML allows spaces only",
		"kpi_timezone":    `kpi_timezone.bad.yaml:2: kpis.timezone: "Mars/Olympus" is not a time zone`,
		"marts_timezone":  `marts_timezone.bad.yaml:2: marts.timezone: "Europe/Berln" is not a time zone`,
		"kpi_field":       `kpi_field.bad.yaml:4: kpis.critical_fields[0].fields[0]: "email address" is not a column logical name`,
		"scoring_model":   `scoring_model.bad.yaml:3: scoring.models[1]: "Demo v2" is not a model: write ID or ID@vN`,
		"audit_retention": `audit_retention.bad.yaml:2: audit.retention_days: "-30" is not a number of days: give 1 or more`,
		"snapshot_keep":   `snapshot_keep.bad.yaml:2: serve.snapshot_keep: "-5m" is not a duration such as 30s, 5m or 1h`,
		"audit_rule":      `audit_rule.bad.yaml:2: audit.rules[1]: "Bad Rule@v1" is not a rule reference`,
		// settings that would fail later with a cause hard to find
		"other_tenant":    `other_tenant.bad.yaml:5: environments[0].authority: "https://login.microsoftonline.com/99999999-8888-7777-6666-555555555555" names tenant "99999999-8888-7777-6666-555555555555" but tenant_id is "11111111-2222-3333-4444-555555555555": name one tenant (or leave tenant_id out)`,
		"reconcile_every": `reconcile_every.bad.yaml:4: sync.reconcile.large_every: 24h0m0s is more often than sync.reconcile.every (48h0m0s): large tables are reconciled at most as often as small ones`,
		"reconcile_keys":  `reconcile_keys.bad.yaml:3: sync.reconcile.large_keys: must be at least 1 (a number of keys)`,
		"memory_budget":   `memory_budget.bad.yaml:2: sync.memory_budget_mb: must be between 16 and 1048576 megabytes (a full page of a wide table takes 15–35 MB)`,
		"short_lease":     `short_lease.bad.yaml:4: schedules[0].lease: 1s is shorter than 3s: give a lease such as 2m`,
	}
	secrets := map[string]string{"AMPEL_TEST_SECRET": "Xy7~qR2sT9uVwZ4aB6cD"}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("testdata", name+".bad.yaml")
			_, err := Load(file, env(secrets))
			require.Error(t, err)
			require.Contains(t, err.Error(), "testdata"+string(filepath.Separator)+want)
			require.NotContains(t, err.Error(), "\n", "one line")
			require.NotContains(t, err.Error(), secrets["AMPEL_TEST_SECRET"])
			require.NotContains(t, err.Error(), "Q8x~aB3dEf9GhJ2kLm5NpQ7rSt")
		})
	}
}

// TestTenantSpelledTwoWays: an authority with the tenant's domain name
// beside tenant_id as a GUID may be one tenant, and so may the same GUID in
// another case: Entra ID decides, the config does not refuse them.
func TestTenantSpelledTwoWays(t *testing.T) {
	t.Parallel()
	for _, authority := range []string{
		"https://login.microsoftonline.com/contoso.onmicrosoft.com",
		"https://login.microsoftonline.com/11111111-2222-3333-4444-55555555555A",
		"https://login.microsoftonline.us",
	} {
		doc := "environments:\n  - name: prod\n    url: https://contoso.crm4.dynamics.com\n    tenant_id: 11111111-2222-3333-4444-55555555555a\n" +
			"    authority: " + authority + "\n    client_id: x\n    client_secret: y\n"
		_, err := Parse("ampel.yaml", []byte(doc), env(nil))
		require.NoError(t, err, authority)
	}
}

func TestEngineDatabasesRefused(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"system", "information_schema", "INFORMATION_SCHEMA", "System", "_temporary_and_external_tables"} {
		_, err := Parse("a.yaml", []byte("warehouse:\n  database: "+db+"\n"), env(nil))
		require.ErrorContains(t, err, "a.yaml:2: warehouse.database: \""+db+"\" is the engine's own database", db)
	}
	// default is an ordinary database (a test server's DSN points there)
	c, err := Parse("a.yaml", []byte("warehouse:\n  database: default\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, "default", c.Warehouse.Database)
}

func TestValuesShownInErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, value string
		shown      bool
	}{
		{"warehouse.driver", "postgres", true},
		{"environments[0].url", "http://contoso.crm4.dynamics.com", true},
		{"schedules[0].cron", "every hour", true},
		{"sync.tables[0]", "new_projectmilestone_extension", true},
		{"environments[0].tenant_id", "11111111-2222-3333-4444-555555555555", true},
		{"environments[0].client_secret", "short", false},                  // a secret key
		{"serve.keys[0].key", "k", false},                                  // a secret key
		{"warehouse.dsn", "clickhouse://localhost", false},                 // named like a secret
		{"environments[0].max_concurrency", "Ab3~x9Qz7Lm2Pk5Rt8Wy", false}, // an Entra ID secret's shape
		{"log.level", "0123456789abcdef0123456789abcdef", false},           // a hex key
		{"environments[0].url", "https://user:pa55@host.example.com", false},
	} {
		got := shown(tc.key, tc.value, "", false)
		if tc.shown {
			require.Equal(t, `"`+tc.value+`"`, got, tc.key)
		} else {
			require.NotContains(t, got, tc.value, tc.key)
		}
	}
	require.Equal(t, "the value from ${X}", shown("log.level", "debug", "X", false))
}

func TestErrorLinesAfterBlankLines(t *testing.T) {
	t.Parallel()
	_, err := Parse("a.yaml", []byte("\n\nlog:\n  level: loud\n"), env(nil))
	require.ErrorContains(t, err, `a.yaml:4: log.level: "loud" is not a level`)
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	t.Parallel()
	data := "environments:\n  - name: prod\n    url: https://x.crm.dynamics.com\n    tenant_id: t\n    client_id: c\n    client_secret: [hunter2]\n"
	_, err := Parse("a.yaml", []byte(data), env(nil))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
	require.True(t, strings.HasPrefix(err.Error(), "a.yaml:6: environments[0].client_secret:"), err.Error())
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("warehouse:\n  driver: embedded\n"))
	f.Add([]byte("environments:\n  - name: a\n    url: https://a\n"))
	f.Add([]byte("sync:\n  tables: [lead, {name: x, exclude_columns: [y]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, env(map[string]string{"X": "1"}))
		if err == nil && c.Warehouse.Driver == "" {
			t.Fatal("defaults not applied")
		}
	})
}

func TestCronErrorHidesSecretValue(t *testing.T) {
	t.Parallel()
	data := "schedules:\n  - name: hourly\n    cron: ${CRON}\n"
	_, err := Parse("a.yaml", []byte(data), env(map[string]string{"CRON": "s3cr3t words"}))
	require.EqualError(t, err, `a.yaml:3: schedules[0].cron: the value from ${CRON} is not a cron schedule; e.g. "0 * * * *" or "@every 15m"`)
	_, err = Parse("a.yaml", []byte("schedules:\n  - name: hourly\n    cron: Ab3~x9Qz7Lm2Pk5Rt8Wy\n"), env(nil))
	require.ErrorContains(t, err, "the value (not shown) is not a cron schedule;")
	require.NotContains(t, err.Error(), "Ab3~x9Qz7Lm2Pk5Rt8Wy")
}

func TestServe(t *testing.T) {
	t.Parallel()
	key := "0123456789abcdef-feed-key"
	hash := strings.Repeat("ab", 32)
	data := "serve:\n  addr: 0.0.0.0:8443\n  tls_cert: c.pem\n  tls_key: k.pem\n  keys:\n    - name: powerbi\n      key: ${FEED_KEY}\n    - {name: finance, sha256: " + hash + "}\n"
	c, err := Parse(filepath.Join("dir", "a.yaml"), []byte(data), env(map[string]string{"FEED_KEY": key}))
	require.NoError(t, err)
	require.Equal(t, []Key{{Name: "powerbi", Key: key}, {Name: "finance", SHA256: hash}}, c.Serve.Keys)
	require.Equal(t, "api_key", c.Serve.KeyParam, "default")
	require.Equal(t, 5000, c.Serve.PageSize, "default")
	require.Equal(t, filepath.Join("dir", "c.pem"), c.Serve.TLSCert, "relative to the file")

	for _, tc := range []struct{ yaml, err string }{
		{"serve:\n  addr: 0.0.0.0:8080\n", "a.yaml:2: serve.addr: 0.0.0.0:8080 would serve plain HTTP beyond this machine: give serve.tls_cert and serve.tls_key, or set serve.insecure_http: true behind a TLS proxy"},
		{"serve:\n  addr: nonsense\n", `a.yaml:2: serve.addr: "nonsense" is not host:port, e.g. 127.0.0.1:8080`},
		{"serve:\n  tls_cert: c.pem\n", "serve.tls_key: give tls_cert and tls_key together"},
		{"serve:\n  page_size: 200000\n", "a.yaml:2: serve.page_size: must be between 1 and 100000"},
		{"serve:\n  page_size: 200000\n  keys: [{name: a, key: x}]\n", "a.yaml:3: serve.keys[0].key: the key is shorter than 16 characters"},
		{"serve:\n  keys: [{name: a}]\n", "serve.keys[0].key: required: the key as ${ENV}, or its sha256"},
		{"serve:\n  keys: [{name: a, sha256: abc}]\n", "serve.keys[0].sha256: not 64 hex digits"},
		{"serve:\n  keys: [{key: " + key + "}]\n", "serve.keys[0].name: required"},
		{"serve:\n  keys: [{name: a, key: " + key + "}, {name: a, sha256: " + hash + "}]\n", `serve.keys[1].name: "a" is used by another key`},
		{"serve:\n  keys: [{name: a, key: " + key + ", sha256: " + hash + "}]\n", "serve.keys[0].sha256: give key or sha256, not both"},
		{"serve:\n  key_param: a-b\n", `serve.key_param: "a-b" is not a query parameter name`},
	} {
		_, err := Parse("a.yaml", []byte(tc.yaml), env(nil))
		require.ErrorContains(t, err, tc.err, tc.yaml)
		require.NotContains(t, err.Error(), key)
		require.NotContains(t, err.Error(), hash)
	}
	_, err = Parse("a.yaml", []byte("serve:\n  addr: 0.0.0.0:8080\n  insecure_http: true\n"), env(nil))
	require.NoError(t, err)
	_, err = Parse("a.yaml", []byte("serve:\n  addr: '[::1]:8080'\n"), env(nil))
	require.NoError(t, err, "loopback")
}

// TestShardedWarehouseKey: warehouse.cluster goes to the driver's config,
// and is refused with one line for the embedded driver and for a name that
// cannot be a cluster's.
func TestShardedWarehouseKey(t *testing.T) {
	t.Parallel()
	c, err := Parse("a.yaml", []byte("warehouse:\n  driver: clickhouse\n  dsn: clickhouse://h:9000/ampel\n  cluster: ampel\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, "ampel", c.WarehouseConfig().Cluster)

	_, err = Parse("a.yaml", []byte("warehouse:\n  driver: embedded\n  cluster: ampel\n"), env(nil))
	require.ErrorContains(t, err, "a.yaml:3: warehouse.cluster: a cluster needs the clickhouse driver")
	require.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")

	_, err = Parse("a.yaml", []byte("warehouse:\n  driver: clickhouse\n  dsn: clickhouse://h:9000/ampel\n  cluster: \"my-cluster\"\n"), env(nil))
	require.ErrorContains(t, err, "a.yaml:4: warehouse.cluster: \"my-cluster\" is not a cluster name")
}
