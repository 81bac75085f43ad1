"""The one owner of SQL. Other stages call these functions and get plain dataclasses back."""

from afterword.store.comments import (
    ACTIONS,
    Transition,
    add_comment,
    count_approved_by_email,
    count_by_status,
    edit_comment,
    find_duplicate,
    get_comment,
    insert_comment,
    list_comments,
    moderate,
    moderation_history,
    restore_status,
)
from afterword.store.db import Store, apply_migrations, open_store, require_database
from afterword.store.meta import get_meta, set_meta, site_secret
from afterword.store.models import Comment, NewComment, Page, format_time, parse_time, utc_now
from afterword.store.pages import (
    bump_page,
    ensure_page,
    get_page,
    iter_dirty_pages,
    mark_built,
    set_page_closed,
)

__all__ = [
    "ACTIONS",
    "Comment",
    "NewComment",
    "Page",
    "Store",
    "Transition",
    "add_comment",
    "apply_migrations",
    "bump_page",
    "count_approved_by_email",
    "count_by_status",
    "edit_comment",
    "ensure_page",
    "find_duplicate",
    "format_time",
    "get_comment",
    "get_meta",
    "get_page",
    "insert_comment",
    "iter_dirty_pages",
    "list_comments",
    "mark_built",
    "moderate",
    "moderation_history",
    "open_store",
    "parse_time",
    "require_database",
    "restore_status",
    "set_meta",
    "set_page_closed",
    "site_secret",
    "utc_now",
]
