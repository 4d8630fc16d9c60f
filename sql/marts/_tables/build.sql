{{/* Building one mart into snapshot .Snapshot: the mart's SELECT (.Body)
fills a new partition. */ -}}
INSERT INTO {{ident .Table}} (_snapshot{{range .Columns}}, {{ident .Name}}{{end}})
SELECT
    toUInt64({{.Snapshot}}) AS _snapshot
{{- range .Columns}},
    {{ident .Name}}
{{- end}}
FROM
(
{{.Body}}
)
