{{/* A column the source added: after the last data column, before Ampel's
own, so that the data columns stay together. On a cluster the local table
of every shard gets it, then the Distributed table in front of them (see
create_table.sql). */ -}}
{{if .Dialect.Cluster -}}
ALTER TABLE {{ident .Dialect.Database}}.{{ident (printf "%s_local" .Table)}}{{.Dialect.OnCluster}} ADD COLUMN {{ident .Column.Name}} {{.Column.Type}}{{with .After}} AFTER {{ident .}}{{end}};
ALTER TABLE {{ident .Dialect.Database}}.{{ident .Table}}{{.Dialect.OnCluster}} ADD COLUMN {{ident .Column.Name}} {{.Column.Type}}{{with .After}} AFTER {{ident .}}{{end}}
{{- else -}}
ALTER TABLE {{ident .Table}} ADD COLUMN {{ident .Column.Name}} {{.Column.Type}}{{with .After}} AFTER {{ident .}}{{end}}
{{- end}}
