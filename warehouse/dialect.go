package warehouse

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a ClickHouse release number such as 18.16.1 or 26.7.3.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion reads "18.16.1", "26.7.3.1" or "v26.7.3-stable"; parts
// after the third and anything from the first character that is neither a
// digit nor a dot are ignored.
func ParseVersion(s string) (Version, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexFunc(s, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	var v Version
	dst := []*int{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if i == len(dst) {
			break
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return Version{}, fmt.Errorf("clickhouse version %q: %w", s, err)
		}
		*dst[i] = n
	}
	if v.Major == 0 {
		return Version{}, fmt.Errorf("clickhouse version %q: no major version", s)
	}
	return v, nil
}

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Dialect describes the engine behind a Store: which driver, which
// ClickHouse version, and from that the SQL forms Ampel may use. Where a
// newer server allows a better form, the methods say so; everything else is
// written for the oldest supported server (Debian's 18.16).
type Dialect struct {
	// Driver is the registered driver name.
	Driver string
	// Version is the engine's ClickHouse version.
	Version Version
	// Cluster is the cluster the store's DDL goes to (Config.Cluster), ""
	// for one server. See Clustered.
	Cluster string
	// Database is the store's database; replicated tables' Keeper paths
	// name it (18.16 has no {database} macro in them).
	Database string
}

// Clustered reports whether the store works on a cluster. Then, in the
// templates (TemplateData):
//
//   - every CREATE, DROP and RENAME is sent {{.Dialect.OnCluster}}, which
//     is " ON CLUSTER `name`" (empty on one server), so that it runs on
//     every node through the Keeper's DDL queue;
//   - Ampel's own tables are replicated to every node: one replica set for
//     the whole cluster, Keeper path {{.Dialect.AllPath}}<table> and replica
//     '{replica}', so any node reads them whole. An ALTER of such a table
//     goes without ON CLUSTER: replication carries it to every replica
//     (with ON CLUSTER every shard would run it once more on the same
//     replica set, and the second ADD COLUMN fail);
//   - a landing table is a local ReplicatedReplacingMergeTree per shard
//     (path {{.Dialect.ShardPath}}<table>_local) and a Distributed table
//     under the name the rest of Ampel reads (sql/landing/create_table.sql).
func (d Dialect) Clustered() bool { return d.Cluster != "" }

// OnCluster is the clause a DDL statement carries on a cluster, with a
// leading space, or "" on one server.
func (d Dialect) OnCluster() string {
	if d.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + QuoteIdentifier(d.Cluster)
}

// AllPath is the Keeper path prefix of a table replicated to every node of
// the cluster: '/clickhouse/tables/all/<database>/' (the table's name
// follows).
func (d Dialect) AllPath() string { return "/clickhouse/tables/all/" + d.Database + "/" }

// ShardPath is the Keeper path prefix of a table replicated within each
// shard: '/clickhouse/tables/{shard}/<database>/'; the server expands
// {shard} from its macros.
func (d Dialect) ShardPath() string { return "/clickhouse/tables/{shard}/" + d.Database + "/" }

// IsDeleted reports whether ReplacingMergeTree takes an is_deleted column
// (ClickHouse 23.2 and newer).
func (d Dialect) IsDeleted() bool { return d.Version.AtLeast(23, 2) }

// Bool is the column type for true/false values: Bool from 21.12 on,
// UInt8 before.
func (d Dialect) Bool() string {
	if d.Version.AtLeast(21, 12) {
		return "Bool"
	}
	return "UInt8"
}

// ModernSQL reports whether the engine has CTEs and window functions
// (21.x and newer), which KPI definitions may require.
func (d Dialect) ModernSQL() bool { return d.Version.AtLeast(21, 9) }

// ExplainAST reports whether the engine has EXPLAIN AST (20.6 and newer),
// which drivers use as the second read-only check (CheckExplainAST). Its
// output was checked against ClickHouse 26.7; older servers that print node
// types it does not know have statements refused, never let through.
func (d Dialect) ExplainAST() bool { return d.Version.AtLeast(20, 6) }

// TemplateData is what SQL templates see as {{.Dialect}}: plain fields, so
// a template can write {{if .Dialect.IsDeleted}}.
func (d Dialect) TemplateData() map[string]any {
	return map[string]any{
		"Driver":    d.Driver,
		"Version":   d.Version.String(),
		"IsDeleted": d.IsDeleted(),
		"Bool":      d.Bool(),
		"ModernSQL": d.ModernSQL(),
		"Cluster":   d.Cluster,
		"OnCluster": d.OnCluster(),
		"Database":  d.Database,
		"AllPath":   d.AllPath(),
		"ShardPath": d.ShardPath(),
		"NodeLocal": NodeLocal,
	}
}
