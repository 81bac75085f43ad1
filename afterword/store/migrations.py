"""The schema, as named migrations applied in order (sqlite-utils ``Migrations``).

A shipped migration is never edited: a change to the schema is a new function at the end.
Each runs in its own transaction together with the record that it ran.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils.migrations import Migrations

migrations = Migrations("afterword")

STATUSES = ("pending", "approved", "rejected", "spam", "deleted")


@migrations(name="0001_initial")
def initial(db: Any) -> None:
    """pages, comments, moderation_log, meta, and the build/publish bookkeeping tables."""
    status_list = ", ".join(f"'{s}'" for s in STATUSES)
    db.executescript(
        f"""
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE pages (
            key TEXT PRIMARY KEY,
            url TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            closed INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 0,
            built_version INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL
        );
        CREATE INDEX pages_dirty ON pages (key) WHERE version > built_version;
        CREATE TABLE comments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            page_key TEXT NOT NULL REFERENCES pages (key) ON UPDATE CASCADE,
            parent_id INTEGER REFERENCES comments (id),
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ({status_list})),
            author TEXT NOT NULL,
            email TEXT NOT NULL DEFAULT '',
            website TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL,
            body_html TEXT NOT NULL,
            renderer TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            ip_hash TEXT NOT NULL DEFAULT '',
            body_hash TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'intake',
            external_id TEXT,
            extra TEXT NOT NULL DEFAULT '{{}}'
        );
        CREATE INDEX comments_queue ON comments (status, created, id);
        CREATE INDEX comments_page ON comments (page_key, status, created, id);
        CREATE INDEX comments_parent ON comments (parent_id);
        CREATE INDEX comments_email ON comments (email, status) WHERE email != '';
        CREATE INDEX comments_duplicate ON comments (body_hash, page_key, ip_hash, created);
        CREATE INDEX comments_recent ON comments (created, id) WHERE status = 'approved';
        CREATE UNIQUE INDEX comments_external ON comments (source, external_id)
            WHERE external_id IS NOT NULL;
        CREATE TABLE moderation_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            comment_id INTEGER NOT NULL REFERENCES comments (id),
            action TEXT NOT NULL,
            from_status TEXT NOT NULL,
            to_status TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        );
        CREATE INDEX moderation_log_comment ON moderation_log (comment_id, id);
        CREATE TABLE objects (
            key TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            cache_class TEXT NOT NULL,
            page_key TEXT
        );
        CREATE TABLE published (
            target TEXT NOT NULL,
            key TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (target, key)
        );
        CREATE TABLE invalidations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            target TEXT NOT NULL,
            paths TEXT NOT NULL,
            reference TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'submitted', 'completed')),
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        CREATE INDEX invalidations_open ON invalidations (target, state);
        """
    )


@migrations(name="0002_comments_client")
def comments_client(db: Any) -> None:
    """Accepted comments by client network and time: the shared rate limit's one lookup."""
    db.execute(
        "CREATE INDEX comments_client ON comments (ip_hash, created) "
        "WHERE status IN ('pending', 'approved')"
    )


@migrations(name="0003_email_key")
def email_key(db: Any) -> None:
    """``comments.email_key``: the address as the auto-approval rule compares it, indexed.

    ``email = ? COLLATE NOCASE`` cannot use the binary ``comments_email`` index, so counting
    one address's approved comments scanned every approved row, under the intake's write
    lock. The key is a VIRTUAL generated column rather than a stored, backfilled one: SQLite
    computes it from ``email`` on every write, so rows from the intake, importers, erasure
    and hand-written SQL can never disagree with it, existing rows need no backfill, and it
    costs no space in the table (only in its index). ``lower(trim(…))`` folds exactly what
    ``COLLATE NOCASE`` folded (ASCII letters) and drops the spaces a form may add; queries
    normalize their side with the same expression (``store.submissions``). An expression
    index would do the same work, but every query would have to repeat the expression
    verbatim to be able to use it; a named column keeps that in one place.

    The old index on raw ``email`` served no query (all of them compare case-insensitively)
    and is dropped, so inserts do not pay for two e-mail indexes.
    """
    db.execute(
        "ALTER TABLE comments ADD COLUMN email_key TEXT "
        "GENERATED ALWAYS AS (lower(trim(email))) VIRTUAL"
    )
    db.execute(
        "CREATE INDEX comments_email_key ON comments (email_key, status) WHERE email_key != ''"
    )
    db.execute("DROP INDEX comments_email")


@migrations(name="0004_publish_changes")
def publish_changes(db: Any) -> None:
    """Stamp manifest changes so a publish reads only what changed since its last success.

    Diffing the whole manifest against ``published`` costs O(site) on every publish, and
    ``watch`` publishes after every approval. Instead a trigger stamps each manifest row
    whose bytes change (insert, or a new sha256) with the current ``publish_clock``, and a
    deleted row leaves a stamped ``vanished`` row. A publish bumps the clock, reads the
    rows stamped after its target's ``publish_cursors`` entry (``objects_changed`` /
    ``vanished_changed`` indexes), diffs those few against ``published`` in SQL, and moves
    the cursor only once every change landed — so a failed publish is retried in full.
    Triggers, not application code, keep the stamps: every writer of ``objects`` is covered.
    Rows from before this migration carry stamp 0 and a target without a cursor is diffed in
    full once.
    """
    for statement in (
        "ALTER TABLE objects ADD COLUMN changed INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX objects_changed ON objects (changed)",
        "CREATE TABLE vanished (key TEXT PRIMARY KEY, changed INTEGER NOT NULL)",
        "CREATE INDEX vanished_changed ON vanished (changed)",
        "CREATE TABLE publish_clock (id INTEGER PRIMARY KEY CHECK (id = 1), now INTEGER NOT NULL)",
        "INSERT INTO publish_clock (id, now) VALUES (1, 1)",
        "CREATE TABLE publish_cursors (target TEXT PRIMARY KEY, seen INTEGER NOT NULL)",
        """CREATE TRIGGER objects_stamp_insert AFTER INSERT ON objects BEGIN
             UPDATE objects SET changed = (SELECT now FROM publish_clock) WHERE rowid = NEW.rowid;
             DELETE FROM vanished WHERE key = NEW.key;
           END""",
        """CREATE TRIGGER objects_stamp_update AFTER UPDATE OF sha256 ON objects
           WHEN OLD.sha256 IS NOT NEW.sha256 BEGIN
             UPDATE objects SET changed = (SELECT now FROM publish_clock) WHERE rowid = NEW.rowid;
           END""",
        """CREATE TRIGGER objects_stamp_delete AFTER DELETE ON objects BEGIN
             INSERT INTO vanished (key, changed) VALUES (OLD.key, (SELECT now FROM publish_clock))
             ON CONFLICT (key) DO UPDATE SET changed = excluded.changed;
           END""",
    ):
        db.execute(statement)


@migrations(name="0005_author_edits")
def author_edits(db: Any) -> None:
    """Edits by a comment's author: ``comments.edited`` (when a published comment's text was
    last replaced by its author's approved revision) and ``revisions``, the edits of
    published comments that wait for a moderator (at most one pending per comment)."""
    db.executescript(
        """
        ALTER TABLE comments ADD COLUMN edited TEXT;
        CREATE TABLE revisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            comment_id INTEGER NOT NULL REFERENCES comments (id),
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
            body TEXT NOT NULL,
            body_html TEXT NOT NULL,
            renderer TEXT NOT NULL,
            body_hash TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            decided TEXT
        );
        CREATE UNIQUE INDEX revisions_pending ON revisions (comment_id) WHERE status = 'pending';
        """
    )


@migrations(name="0006_notify_outbox")
def notify_outbox(db: Any) -> None:
    """The outbox of notifications: one row per message and channel, written in the same
    transaction as the change that causes it, drained by ``afterword.notify``."""
    db.executescript(
        """
        CREATE TABLE notify_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('mail', 'webhook')),
            target TEXT NOT NULL DEFAULT '',
            comment_id INTEGER NOT NULL REFERENCES comments (id),
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            sent TEXT
        );
        CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt, id)
            WHERE state = 'queued';
        CREATE INDEX notify_outbox_sent ON notify_outbox (channel, sent) WHERE state = 'sent';
        """
    )


@migrations(name="0007_reply_subscriptions")
def reply_subscriptions(db: Any) -> None:
    """Commenters' reply mails (``store.subscriptions``, docs/notifications.md).

    ``subscribers``: one row per address that ever opted in, keyed by ``email_key`` (the
    same ``lower(trim(email))`` as ``comments.email_key``), with the double opt-in's state
    and how many confirmation mails it was sent (the cap against confirmation spam).
    ``subscriptions``: which comments' replies it wants (the box is ticked per comment).
    ``notify_outbox`` gains the ``subscriber`` channel (its ``target`` is the subscriber's
    id, never the address); SQLite cannot change a CHECK constraint in place, so the table
    is rebuilt with its rows and indexes, plus an index for "was this reply mailed yet".
    """
    db.executescript(
        """
        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            email_key TEXT NOT NULL UNIQUE CHECK (email_key != ''),
            state TEXT NOT NULL DEFAULT 'unconfirmed'
                CHECK (state IN ('unconfirmed', 'confirmed', 'unsubscribed')),
            confirmations INTEGER NOT NULL DEFAULT 0,
            confirm_sent TEXT,
            confirmed TEXT,
            created TEXT NOT NULL
        );
        CREATE TABLE subscriptions (
            comment_id INTEGER PRIMARY KEY REFERENCES comments (id),
            email_key TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE INDEX subscriptions_email_key ON subscriptions (email_key);
        CREATE TABLE notify_outbox_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('mail', 'webhook', 'subscriber')),
            target TEXT NOT NULL DEFAULT '',
            comment_id INTEGER NOT NULL REFERENCES comments (id),
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            sent TEXT
        );
        INSERT INTO notify_outbox_new SELECT id, event, channel, target, comment_id, state,
            attempts, next_attempt, last_error, message, created, sent FROM notify_outbox;
        DELETE FROM sqlite_sequence WHERE name = 'notify_outbox_new';
        INSERT INTO sqlite_sequence (name, seq)
            SELECT 'notify_outbox_new', seq FROM sqlite_sequence WHERE name = 'notify_outbox';
        DROP TABLE notify_outbox;
        ALTER TABLE notify_outbox_new RENAME TO notify_outbox;
        CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt, id)
            WHERE state = 'queued';
        CREATE INDEX notify_outbox_sent ON notify_outbox (channel, sent) WHERE state = 'sent';
        CREATE INDEX notify_outbox_subscriber ON notify_outbox (target, comment_id)
            WHERE channel = 'subscriber';
        CREATE INDEX notify_outbox_reply ON notify_outbox (comment_id)
            WHERE channel = 'subscriber';
        """
    )
