{{/* Drops a table of the landing layer that is no longer needed: the
scratch table of seen keys an earlier Ampel kept during a full load, or a
snapshot of a current-state view (.Local: on a cluster, only on the node
Ampel talks to, where the snapshot was made). */ -}}
{{if index . "Local"}}{{.Dialect.NodeLocal}} {{end}}DROP TABLE IF EXISTS {{ident .Table}}
