{{/* The public view of a mart shows the published snapshot only: the one
with the highest number in mart_snapshots. ClickHouse's Power BI connector
reads these. With .Replace the view exists and is rebuilt: CREATE OR
REPLACE where the engine has it, else (18.16) dropped first. */ -}}
{{if and .Replace (not .Dialect.ModernSQL) -}}
DROP TABLE IF EXISTS {{ident .View}};
{{end -}}
CREATE {{if and .Replace .Dialect.ModernSQL}}OR REPLACE {{end}}VIEW {{if not .Replace}}IF NOT EXISTS {{end}}{{ident .View}} AS
SELECT
{{- range $i, $c := .Columns}}{{if $i}},{{end}}
    {{ident $c.Name}}
{{- end}}
FROM {{ident .Table}}
WHERE _snapshot = (SELECT max(snapshot) FROM mart_snapshots)
