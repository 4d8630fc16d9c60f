{{/* A column the source added: after the last data column, before Ampel's
own, so that the data columns stay together. */ -}}
ALTER TABLE {{ident .Table}} ADD COLUMN {{ident .Column.Name}} {{.Column.Type}}{{with .After}} AFTER {{ident .}}{{end}}
