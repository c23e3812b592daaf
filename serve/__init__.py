"""The served arena: a FastAPI app (role WebSockets, REST, OpenEnv ``/ws``) and its Ray Serve deployment."""
