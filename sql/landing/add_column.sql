ALTER TABLE {{ident .Table}} ADD COLUMN {{ident .Column.Name}} {{.Column.Type}}{{with .After}} AFTER {{ident .}}{{end}}
