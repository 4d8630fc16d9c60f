{{/* The migration lock: whoever creates the table holds it. Its owner
(host:pid) and the time it was taken (Unix seconds) are the columns'
defaults, so they exist from the same statement that takes the lock: a
migrator killed right after it leaves a lock that says whose it was. The
two ? are bound to those values. */ -}}
CREATE TABLE {{ident .Table}}
(
    owner String DEFAULT ?,
    acquired_at UInt32 DEFAULT ?
)
ENGINE = Log
