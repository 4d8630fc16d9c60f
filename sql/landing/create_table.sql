{{/* A landing table keeps every version of every record of one Dataverse
table. The newest _version of a key wins; a tombstone has _deleted = 1.
No partitioning: merges, and FINAL on older engines, collapse versions only
within a partition, so a record with versions in two partitions would show
twice; the environment and the key, which never change, are the order. */ -}}
CREATE TABLE IF NOT EXISTS {{ident .Table}}
(
    _environment String,
{{- range .Columns}}
    {{ident .Name}} {{.Type}},
{{- end}}
    _version UInt64,
    _deleted UInt8,
    _synced_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(_version{{if .Dialect.IsDeleted}}, _deleted{{end}})
ORDER BY (_environment, {{ident .Key}})
