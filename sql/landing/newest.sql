{{/* The newest _version of an environment's rows (0 when it has none) and
how many rows it has: a full load starts its generation above it. */ -}}
SELECT max(_version), count() FROM {{ident .Table}} WHERE _environment = ?
