{{/* A tombstone for each of .Keys (GUIDs, written as literals) that is a
live record of an environment at or below a version, one version above the
record's (see tombstone_older.sql): keys the source deleted. A key that is
no longer live, or got a newer row meanwhile, is left alone. */ -}}
INSERT INTO {{ident .Table}} ({{ident .Key}}, _environment, _version, _deleted, _synced_at)
SELECT {{ident .Key}}, _environment, _version + 1, 1, now()
FROM {{ident .Table}} FINAL
WHERE _environment = ? AND _deleted = 0 AND _version <= ? AND {{ident .Key}} IN ({{range $i, $k := .Keys}}{{if $i}},{{end}}'{{$k}}'{{end}})
