{{/* A snapshot: the current state of a view's columns, read once (FINAL
collapses versions once) into a table that reads without FINAL. Memory:
both engines have it, it reads fastest, and it lives only as long as its
user keeps it (the KPI run drops it at its end; a server restart empties
it). */ -}}
CREATE TABLE {{ident .Snapshot}} ENGINE = Memory AS
SELECT
{{- range $i, $c := .Columns}}{{if $i}},{{end}}
    {{ident $c}}
{{- end}}
FROM {{ident .View}}
