"""Notifications to moderators and one-click moderation links (see docs/notifications.md).

``channels`` decides what is enqueued (inside the intake's and the moderators' transactions);
``sender`` drains the outbox (``smtp`` + ``mail``, ``webhook``); ``runner`` makes sure only one
sender runs; ``links`` signs and checks the moderation links; ``status`` reports on the outbox.
"""
