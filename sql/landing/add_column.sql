{{/* A column the source added: after the last data column, before Ampel's
own, so that the data columns stay together.

On a cluster (see create_table.sql) the local table of every shard gets it
(unless .LocalHas: a run killed after that ALTER), then the Distributed
table in front of them is made again from the local table: 18.16 refuses
an ALTER ON CLUSTER of a table that is not replicated on shards that are.
Between the DROP and the CREATE the table is missing for a moment, as the
view is while it is rebuilt; a run killed there finds no table, and the
next sync's create_table.sql makes it. Keep the Distributed table's
definition alike in both files. */ -}}
{{if .Dialect.Cluster -}}
{{$db := ident .Dialect.Database -}}
{{if not .LocalHas -}}
ALTER TABLE {{$db}}.{{ident (printf "%s_local" .Table)}}{{.Dialect.OnCluster}} ADD COLUMN {{ident .Column.Name}} {{.Column.Type}}{{with .After}} AFTER {{ident .}}{{end}};
{{end -}}
DROP TABLE IF EXISTS {{$db}}.{{ident .Table}}{{.Dialect.OnCluster}};
CREATE TABLE IF NOT EXISTS {{$db}}.{{ident .Table}}{{.Dialect.OnCluster}}
AS {{$db}}.{{ident (printf "%s_local" .Table)}}
ENGINE = Distributed({{ident .Dialect.Cluster}}, {{$db}}, {{ident (printf "%s_local" .Table)}}, cityHash64(_environment, toString({{ident .Key}})))
{{- else -}}
ALTER TABLE {{ident .Table}} ADD COLUMN {{ident .Column.Name}} {{.Column.Type}}{{with .After}} AFTER {{ident .}}{{end}}
{{- end}}
