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


@migrations(name="0003_author_edits")
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
