package warehouse

import (
	"fmt"
	"strings"
)

// ClusterDDL returns stmt as it must run on the cluster d.Cluster; on one
// server (d.Cluster empty) it returns stmt unchanged. The server driver
// applies it to every statement it runs, so that the SQL of sql/ —
// migrations, whose text is checksum-locked history, included — reaches a
// cluster without a second copy of each file. On a cluster:
//
//   - CREATE TABLE, CREATE VIEW, CREATE DATABASE, DROP TABLE, DROP
//     DATABASE and RENAME TABLE are sent ON CLUSTER, so that every node runs them (through the
//     Keeper's DDL queue);
//   - the table they name, and in CREATE VIEW … AS SELECT and CREATE TABLE
//     … AS the tables read, are qualified with d.Database: a node runs
//     the queued statement in its own default database (on 18.16 the
//     initiator's database reaches the queued statement's own name, but
//     not the names inside it);
//   - a MergeTree-family engine (MergeTree, ReplacingMergeTree(ver), …)
//     becomes its Replicated form with Keeper path d.AllPath()+table and
//     replica '{replica}': Ampel's own tables are one replica set over the
//     whole cluster, so that every node holds every row;
//   - a Memory table (a KPI run's snapshot) stays on the node Ampel talks
//     to: it is read back by the same process and dropped at its end; so
//     does a statement that carries the comment NodeLocal (a template
//     writes {{.Dialect.NodeLocal}}: the snapshot's DROP);
//   - ALTER TABLE goes without ON CLUSTER: Ampel's own tables are
//     replicated, and replication carries an ALTER to every replica (ON
//     CLUSTER would run it once per shard on the one replica set, and the
//     second ADD COLUMN would fail);
//   - a statement that names ON CLUSTER itself (the landing tables of
//     sql/landing, sharded with a Distributed table in front) is left as
//     written, as is everything that is no DDL (INSERT, SELECT, OPTIMIZE).
func ClusterDDL(stmt string, d Dialect) (string, error) {
	if !d.Clustered() || !mayBeDDL(stmt) || strings.Contains(stmt, NodeLocal) {
		return stmt, nil
	}
	toks, err := lex(stmt)
	if err != nil {
		return "", fmt.Errorf("cluster DDL: %w", err)
	}
	if len(toks) < 3 {
		return stmt, nil
	}
	// ON CLUSTER written in the statement's head (before its columns or
	// query, where ON of a JOIN cannot be)
	for i := 0; i+1 < len(toks) && !toks[i].is("(") && !toks[i].is("AS"); i++ {
		if toks[i].is("ON") && toks[i+1].is("CLUSTER") {
			return stmt, nil
		}
	}
	e := edits{src: stmt}
	on := d.OnCluster()
	qualify := func(i int) {
		if i+1 < len(toks) && toks[i+1].is(".") {
			return // db.table already
		}
		e.insert(toks[i].pos, QuoteIdentifier(d.Database)+".")
	}
	// nameAt skips IF [NOT] EXISTS from i and returns the index of the name.
	nameAt := func(i int) int {
		if i < len(toks) && toks[i].is("IF") {
			i++
			if i < len(toks) && toks[i].is("NOT") {
				i++
			}
			i++ // EXISTS
		}
		return i
	}
	// nameEnd is the byte offset after the (maybe qualified) name at i and
	// the index of the token after it.
	nameEnd := func(i int) (int, int) {
		if i+2 < len(toks) && toks[i+1].is(".") {
			i += 2
		}
		return toks[i].pos + len(toks[i].text), i + 1
	}
	switch {
	case toks[0].is("CREATE") && toks[1].is("DATABASE"):
		n := nameAt(2)
		if n >= len(toks) || !toks[n].isName() {
			return stmt, nil
		}
		end, _ := nameEnd(n)
		e.insert(end, on)
	case toks[0].is("CREATE") && (toks[1].is("TABLE") || toks[1].is("VIEW")):
		n := nameAt(2)
		if n >= len(toks) || !toks[n].isName() {
			return stmt, nil
		}
		table := toks[n].name
		if n+2 < len(toks) && toks[n+1].is(".") {
			table = toks[n+2].name
		}
		if engineIs(toks, "Memory") {
			return stmt, nil
		}
		qualify(n)
		end, next := nameEnd(n)
		e.insert(end, on)
		if toks[1].is("TABLE") && next+1 < len(toks) && toks[next].is("AS") && toks[next+1].isName() && !toks[next+1].is("SELECT") {
			qualify(next + 1) // CREATE TABLE t AS other ENGINE = …
		}
		for _, i := range tableRefs(toks) {
			qualify(i)
		}
		if toks[1].is("TABLE") {
			replicated(toks, &e, d.AllPath()+table)
		}
	case toks[0].is("DROP") && toks[1].is("DATABASE"):
		n := nameAt(2)
		if n >= len(toks) || !toks[n].isName() {
			return stmt, nil
		}
		end, _ := nameEnd(n)
		e.insert(end, on)
	case toks[0].is("DROP") && toks[1].is("TABLE"):
		n := nameAt(2)
		if n >= len(toks) || !toks[n].isName() {
			return stmt, nil
		}
		qualify(n)
		end, _ := nameEnd(n)
		e.insert(end, on)
	case toks[0].is("RENAME") && toks[1].is("TABLE"):
		for i := 2; i < len(toks); i++ {
			if toks[i].isName() && (toks[i-1].is("TABLE") || toks[i-1].is("TO") || toks[i-1].is(",")) {
				qualify(i)
			}
		}
		e.insert(len(strings.TrimRight(stmt, " \t\r\n;")), on)
	default:
		return stmt, nil
	}
	return e.apply(), nil
}

// NodeLocal is the comment that keeps a DDL statement on the node Ampel
// talks to on a cluster (see ClusterDDL).
const NodeLocal = "/* node-local */"

// mayBeDDL is a quick look before lexing: a statement with none of the
// words ClusterDDL rewrites is left alone without being read (a long
// INSERT … VALUES, a KPI's SELECT).
func mayBeDDL(stmt string) bool {
	u := strings.ToUpper(stmt)
	return strings.Contains(u, "CREATE") || strings.Contains(u, "DROP") || strings.Contains(u, "RENAME")
}

// engineIs reports whether the statement's ENGINE = is name.
func engineIs(toks []token, name string) bool {
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].is("ENGINE") && toks[i+1].is("=") {
			return toks[i+2].is(name)
		}
	}
	return false
}

// replicated turns ENGINE = <X>MergeTree[(args)] into
// Replicated<X>MergeTree('path', '{replica}'[, args]).
func replicated(toks []token, e *edits, path string) {
	for i := 0; i+2 < len(toks); i++ {
		if !toks[i].is("ENGINE") || !toks[i+1].is("=") {
			continue
		}
		eng := toks[i+2]
		if eng.kind != tokWord || !strings.HasSuffix(eng.text, "MergeTree") || strings.HasPrefix(eng.text, "Replicated") {
			return
		}
		e.insert(eng.pos, "Replicated")
		args := "('" + path + "', '{replica}'"
		if i+3 < len(toks) && toks[i+3].is("(") {
			if i+4 < len(toks) && !toks[i+4].is(")") {
				args += ", "
			}
			e.replace(toks[i+3].pos, toks[i+3].pos+1, args)
		} else {
			e.insert(eng.pos+len(eng.text), args+")")
		}
		return
	}
}

// edits collects insertions and replacements at byte offsets of src, made
// in order of offset.
type edits struct {
	src string
	ops []edit
}

type edit struct {
	from, to int
	text     string
}

func (e *edits) insert(at int, text string)        { e.ops = append(e.ops, edit{at, at, text}) }
func (e *edits) replace(from, to int, text string) { e.ops = append(e.ops, edit{from, to, text}) }

func (e *edits) apply() string {
	ops := e.ops
	// stable insertion sort by offset: few edits
	for i := 1; i < len(ops); i++ {
		for j := i; j > 0 && ops[j].from < ops[j-1].from; j-- {
			ops[j], ops[j-1] = ops[j-1], ops[j]
		}
	}
	var b strings.Builder
	at := 0
	for _, op := range ops {
		b.WriteString(e.src[at:op.from])
		b.WriteString(op.text)
		at = op.to
	}
	b.WriteString(e.src[at:])
	return b.String()
}
