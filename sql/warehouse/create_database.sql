{{/* The store's database, created when a store opens it and it is
missing. The drivers run it; a cluster would add ON CLUSTER here. */ -}}
CREATE DATABASE IF NOT EXISTS {{ident .Database}}
