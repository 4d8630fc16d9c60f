{{/* The store's database, created when a store opens it and it is
missing. The drivers run it; on a cluster it is created on every node. */ -}}
CREATE DATABASE IF NOT EXISTS {{ident .Database}}{{.Dialect.OnCluster}}
