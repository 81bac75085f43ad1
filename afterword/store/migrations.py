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


@migrations(name="0002_notify_outbox")
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
