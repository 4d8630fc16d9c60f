RENAME TABLE {{ident .Table}} TO {{ident .To}}
