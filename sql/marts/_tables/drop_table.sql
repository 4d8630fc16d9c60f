{{/* A mart's table whose columns a new version of the mart changed is
dropped and created again; its view goes with it. */ -}}
DROP TABLE IF EXISTS {{ident .Table}}
