{{/* The newest stored _version of each of .Keys (GUIDs) in an
environment: a tombstone for a deleted key must outrank it. The keys are
GUIDs, written as literals; the environment is bound. */ -}}
SELECT {{ident .Key}}, max(_version)
FROM {{ident .Table}}
WHERE _environment = ? AND {{ident .Key}} IN ({{range $i, $k := .Keys}}{{if $i}},{{end}}'{{$k}}'{{end}})
GROUP BY {{ident .Key}}
