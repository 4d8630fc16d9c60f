{{/* Dropping one snapshot of one mart. */ -}}
ALTER TABLE {{ident .Table}} DROP PARTITION {{.Snapshot}}
