{{/* A tombstone for every live record of an environment whose newest
version is below a version (see older_count.sql): one version above the
record's, in the record's generation, so that it outranks the record and
a row the key gets again (an undone delete) outranks it. Only the key and
the meta columns are written; the other columns get their defaults. */ -}}
INSERT INTO {{ident .Table}} ({{ident .Key}}, _environment, _version, _deleted, _synced_at)
SELECT {{ident .Key}}, _environment, _version + 1, 1, now()
FROM {{ident .Table}} FINAL
WHERE _environment = ? AND _deleted = 0 AND _version < ?
