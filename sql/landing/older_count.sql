{{/* How many live records of an environment have their newest version
below a version (the first of a full load's generation): the records the
load did not see. */ -}}
SELECT count() FROM {{ident .Table}} FINAL WHERE _environment = ? AND _deleted = 0 AND _version < ?
