{{/* Drops a table of the landing layer that is no longer needed: the
scratch table of seen keys an earlier Ampel kept during a full load, or a
snapshot of a current-state view. */ -}}
DROP TABLE IF EXISTS {{ident .Table}}
