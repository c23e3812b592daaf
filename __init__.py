"""FraudArena: a Ray-distributed self-play arena for a three-role adversarial ad-fraud game.

Packages: ``arena`` (the pure game), ``agents`` (bots, policies, clients, training logic),
``cluster`` (Ray actors), ``serve`` (the Ray Serve app), ``cli`` (the ``fraudarena`` command).
"""

__version__ = "0.1.0"
