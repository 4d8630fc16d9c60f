{{/* The key and newest _version of every live record of an environment
stored at or below a version: key reconciliation compares them with the
keys the source has, leaving out what landed after its key read began. */ -}}
SELECT {{ident .Key}}, _version FROM {{ident .Table}} FINAL WHERE _environment = ? AND _deleted = 0 AND _version <= ?
