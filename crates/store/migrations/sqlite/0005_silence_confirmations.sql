-- The stale objections a chair confirmed when starting a silence: a JSON array of the ledger
-- seqs (positions.seq) of those objections. Only these become support by silence at the
-- deadline; any other stale objection stands. Silences started before this column existed
-- confirmed none.
-- SQLite flavour. Keep in step with ../postgres/0005_silence_confirmations.sql.

ALTER TABLE silences ADD COLUMN confirmed_stale TEXT NOT NULL DEFAULT '[]';
