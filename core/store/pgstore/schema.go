package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/leconnect/leconnect/core/store"
)

// migrations[i] takes the schema from version i to i+1. Append only.
var migrations = []string{
	// 1: the whole store contract.
	`
CREATE TABLE consumers (
	channel     text   NOT NULL,
	consumer_id text   NOT NULL,
	record      jsonb  NOT NULL,
	revision    bigint NOT NULL,
	PRIMARY KEY (channel, consumer_id)
);
CREATE TABLE owners (
	conversation_id text NOT NULL PRIMARY KEY,
	channel         text NOT NULL,
	consumer_id     text NOT NULL,
	retired_until   timestamptz
);
CREATE INDEX owners_retired ON owners (retired_until) WHERE retired_until IS NOT NULL;
CREATE TABLE participants (
	participant_id text NOT NULL PRIMARY KEY,
	channel        text NOT NULL,
	consumer_id    text NOT NULL
);
CREATE TABLE tokens (
	ext_consumer_id text NOT NULL PRIMARY KEY,
	token           text NOT NULL
);
CREATE TABLE links (
	channel         text        NOT NULL,
	chat_id         text        NOT NULL,
	message_id      text        NOT NULL,
	conversation_id text        NOT NULL,
	sequence        bigint      NOT NULL,
	expires_at      timestamptz NOT NULL,
	PRIMARY KEY (channel, chat_id, message_id)
);
CREATE INDEX links_by_sequence ON links (conversation_id, sequence);
CREATE INDEX links_expiry ON links (expires_at);
CREATE TABLE choices (
	channel     text        NOT NULL,
	consumer_id text        NOT NULL,
	id          text        NOT NULL,
	record      json        NOT NULL, -- json, not jsonb: the metadata comes back byte for byte
	expires_at  timestamptz NOT NULL,
	PRIMARY KEY (channel, consumer_id, id)
);
CREATE INDEX choices_expiry ON choices (expires_at);
CREATE TABLE echoes (
	conversation_id text        NOT NULL,
	external_id     text        NOT NULL,
	sequence        bigint      NOT NULL,
	expires_at      timestamptz NOT NULL,
	PRIMARY KEY (conversation_id, external_id)
);
CREATE INDEX echoes_expiry ON echoes (expires_at);
CREATE TABLE handled (
	conversation_id text        NOT NULL PRIMARY KEY,
	sequence        bigint      NOT NULL,
	expires_at      timestamptz NOT NULL
);
CREATE INDEX handled_expiry ON handled (expires_at);
CREATE TABLE unowned (
	participant_id  text        NOT NULL PRIMARY KEY,
	conversation_id text        NOT NULL,
	expires_at      timestamptz NOT NULL
);
CREATE INDEX unowned_expiry ON unowned (expires_at);
CREATE TABLE dedupe (
	queue      text        NOT NULL,
	key        bytea       NOT NULL, -- queue and dedupe keys are opaque bytes (the engine's hold NULs)
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (queue, key)
);
CREATE INDEX dedupe_expiry ON dedupe (expires_at);
CREATE TABLE items (
	queue       text        NOT NULL,
	seq         bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
	key         bytea       NOT NULL,
	dedupe_key  bytea       NOT NULL DEFAULT '',
	sequence    bigint,
	payload     bytea       NOT NULL,
	enqueued_at timestamptz NOT NULL,
	attempts    integer     NOT NULL DEFAULT 0,
	replays     integer     NOT NULL DEFAULT 0,
	PRIMARY KEY (queue, seq)
);
CREATE INDEX items_by_key ON items (queue, key, seq);
CREATE TABLE leases (
	queue      text        NOT NULL,
	key        bytea       NOT NULL,
	owner      text        NOT NULL,
	token      bigint      NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (queue, key)
);
CREATE SEQUENCE lease_tokens;
-- leconnect_fence locks a key's lease row until the transaction ends and
-- raises LC001 unless the lease is live and item s (0: none) is of the key,
-- so a fenced write is one round trip that changes nothing when it fails.
CREATE FUNCTION leconnect_fence(q text, k bytea, o text, t bigint, now timestamptz, s bigint) RETURNS void AS $$
DECLARE
	live boolean;
	ik bytea;
BEGIN
	SELECT l.owner = o AND l.token = t AND l.expires_at > now INTO live FROM leases l WHERE l.queue = q AND l.key = k FOR UPDATE;
	IF live IS NOT TRUE THEN
		RAISE EXCEPTION 'lease of % under token % lost', encode(k, 'escape'), t USING ERRCODE = 'LC001';
	END IF;
	IF s > 0 THEN
		SELECT i.key INTO ik FROM items i WHERE i.queue = q AND i.seq = s;
		IF FOUND AND ik <> k THEN
			RAISE EXCEPTION 'item % is not of key %', s, encode(k, 'escape') USING ERRCODE = 'LC001';
		END IF;
	END IF;
END
$$ LANGUAGE plpgsql;
CREATE TABLE dead_letters (
	id      bigint      NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	queue   text        NOT NULL,
	item    json        NOT NULL, -- json, not jsonb: keys hold NULs (\u0000), which jsonb refuses
	reason  text        NOT NULL,
	dead_at timestamptz NOT NULL
);
`,
	// 2: the adapters' send journal and named leases for once-per-cluster work.
	`
CREATE TABLE send_journal (
	channel     text        NOT NULL,
	key         bytea       NOT NULL,
	message_ids json        NOT NULL,
	expires_at  timestamptz NOT NULL,
	PRIMARY KEY (channel, key)
);
CREATE INDEX send_journal_expiry ON send_journal (expires_at);
CREATE TABLE singletons (
	name       text        NOT NULL PRIMARY KEY,
	owner      text        NOT NULL,
	token      bigint      NOT NULL,
	expires_at timestamptz NOT NULL
);
`,
	// 3: send intents: a row begun and never recorded is a send in doubt.
	`
ALTER TABLE send_journal ADD COLUMN begun_at timestamptz;
`,
}

// fenceErrCode is the SQLSTATE leconnect_fence raises.
const fenceErrCode = "LC001"

// schemaVersion is the version this binary writes.
var schemaVersion = len(migrations)

// migrate brings the schema to schemaVersion, once, however many
// instances start at the same time.
func migrate(ctx context.Context, conn *pgx.Conn) error {
	// Up to date (the usual case): no lock, no DDL, so a read-only
	// standby opens too.
	var current int
	err := conn.QueryRow(ctx, `SELECT version FROM leconnect_schema`).Scan(&current)
	switch {
	case err == nil && current == schemaVersion:
		return nil
	case err == nil && current > schemaVersion:
		return fmt.Errorf("schema version %d, this binary supports up to %d: %w", current, schemaVersion, store.ErrSchemaTooNew)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Released at commit or rollback; the key is "leconnect" in ASCII.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7812660588416938100)`); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS leconnect_schema (version integer NOT NULL)`); err != nil {
		return err
	}
	version := 0
	err = tx.QueryRow(ctx, `SELECT version FROM leconnect_schema`).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO leconnect_schema (version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if version > schemaVersion {
		return fmt.Errorf("schema version %d, this binary supports up to %d: %w", version, schemaVersion, store.ErrSchemaTooNew)
	}
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE leconnect_schema SET version = $1`, schemaVersion); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
