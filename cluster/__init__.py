"""Ray placement of live matches: match actors (one or K matches each), the directory, the history archive.

Plain modules (``live_match``, ``match_host``, ``async_host``, ``archive_store``, ``local_backend``) hold the
logic and import no Ray; ``match_actor``, ``directory``, ``history_actor``, ``naming`` and ``ray_backend``
wrap them for a Ray cluster.
"""
