{{/* A landing table keeps every version of every record of one Dataverse
table. The newest _version of a key wins; a tombstone has _deleted = 1.
No partitioning: merges, and FINAL on older engines, collapse versions only
within a partition, so a record with versions in two partitions would show
twice; the environment and the key, which never change, are the order.

On a cluster (.Dialect.Cluster) the rows live in <table>_local on every
node, replicated within each shard, and <table> is a Distributed table in
front of them that the rest of Ampel reads and writes as on one server.
Its sharding key, the environment and the record's key, sends every
version of a record to one shard, so that FINAL (which the Distributed
table forwards to each shard) collapses them all. Names are qualified:
each node runs the statement in its own default database. */ -}}
{{$engineArgs := "_version"}}{{if .Dialect.IsDeleted}}{{$engineArgs = "_version, _deleted"}}{{end -}}
{{$db := ident .Dialect.Database -}}
{{if .Dialect.Cluster -}}
CREATE TABLE IF NOT EXISTS {{$db}}.{{ident (printf "%s_local" .Table)}}{{.Dialect.OnCluster}}
{{- else -}}
CREATE TABLE IF NOT EXISTS {{ident .Table}}
{{- end}}
(
    _environment String,
{{- range .Columns}}
    {{ident .Name}} {{.Type}},
{{- end}}
    _version UInt64,
    _deleted UInt8,
    _synced_at DateTime('UTC')
)
{{if .Dialect.Cluster -}}
ENGINE = ReplicatedReplacingMergeTree('{{.Dialect.ShardPath}}{{.Table}}_local', '{replica}', {{$engineArgs}})
{{- else -}}
ENGINE = ReplacingMergeTree({{$engineArgs}})
{{- end}}
ORDER BY (_environment, {{ident .Key}})
{{- if .Dialect.Cluster}};
CREATE TABLE IF NOT EXISTS {{$db}}.{{ident .Table}}{{.Dialect.OnCluster}}
AS {{$db}}.{{ident (printf "%s_local" .Table)}}
ENGINE = Distributed({{ident .Dialect.Cluster}}, {{$db}}, {{ident (printf "%s_local" .Table)}}, cityHash64(_environment, toString({{ident .Key}})))
{{- end}}
