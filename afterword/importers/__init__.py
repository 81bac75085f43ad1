"""Moving comments in and out: importers for other systems, the lossless export, erasure.

Each source module (``disqus``, ``wordpress``, ``isso``, ``staticman``, ``commento``) only
turns a foreign file into plain records (``records.py``); ``run.py`` applies afterword's
policies (URL mapping, page keys, sanitizing, hashing) and stores them through
``afterword.store.transfer`` in one transaction. ``export.py`` and ``erase.py`` serve the
site owner's and the commenters' rights to their data.
"""
