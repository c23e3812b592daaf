"""The served-match domain: live matches, seats and tokens, the match host, matchmaking, the archive store
and the arena's settings (docs/protocol.md, docs/operations.md).

Plain Python with no Ray and no web framework: ``fraudarena.cluster`` places these objects on a Ray
cluster and ``fraudarena.serve`` exposes them over HTTP and WebSockets; ``local_backend`` runs them all in
one event loop (the single-process baseline and the fast tests).
"""
