"""Files the arena reads and writes: battles files (readers, columns, the fast CSV parser), atomic output
files, the vote export's rows and the leaderboard's ``--out`` tables.

No database and no web code: the services call these with paths and plain values.
"""
