{{/* A mart's table keeps every snapshot that is still kept, one partition
per snapshot: building a snapshot writes a new partition, dropping an old
one is ALTER TABLE … DROP PARTITION. Data: .Table, .Columns, .Key. */ -}}
CREATE TABLE IF NOT EXISTS {{ident .Table}}
(
    _snapshot UInt64
{{- range .Columns}},
    {{ident .Name}} {{.Type}}
{{- end}}
)
ENGINE = MergeTree
PARTITION BY _snapshot
ORDER BY (_snapshot{{range .Key}}, {{ident .}}{{end}})
