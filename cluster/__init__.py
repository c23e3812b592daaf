"""Ray placement of live matches: match actors (one or K matches each), the directory, the history archive,
the matchmaker actor and rollout workers.

The served-match logic itself (live matches, hosts, tokens, matchmaking, the archive store, settings) lives
in ``fraudarena.served`` and imports no Ray; the modules here only place it on a Ray cluster.
"""
