{{/* Publishing a snapshot: one row, and every public view shows it. */ -}}
INSERT INTO mart_snapshots (snapshot, published_at, reason, marts, rows, took_ms) VALUES (?, ?, ?, ?, ?, ?)
