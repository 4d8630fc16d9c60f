INSERT INTO {{ident .Table}} (version, name, checksum, applied_at, duration_ms) VALUES (?, ?, ?, ?, ?)
