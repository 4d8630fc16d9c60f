{{/* The current-state view shows each live record once: FINAL collapses
versions at query time, across parts, and the filter hides tombstones.
With .Replace the view exists and is rebuilt: CREATE OR REPLACE where the
engine has it, else (18.16 has neither it nor DROP VIEW) dropped first. */ -}}
{{if and .Replace (not .Dialect.ModernSQL) -}}
DROP TABLE IF EXISTS {{ident .View}};
{{end -}}
CREATE {{if and .Replace .Dialect.ModernSQL}}OR REPLACE {{end}}VIEW {{if not .Replace}}IF NOT EXISTS {{end}}{{ident .View}} AS
SELECT
    _environment,
{{- range .Columns}}
    {{ident .Name}},
{{- end}}
    _version,
    _synced_at
FROM {{ident .Table}} FINAL
WHERE _deleted = 0
