"""GTP (the Go Text Protocol): a client for engines such as GNU Go (:mod:`.client`), the
engine side that makes any rlgo player a GTP engine (:mod:`.engine`, ``rlgo gtp``; not
imported here: it loads the rules engine) and the rules oracle that checks rlgo's engine
against GNU Go move by move (:mod:`.verify`, ``python -m rlgo.gtp.verify``)."""

from rlgo.gtp.client import (
    EngineDiedError,
    EngineTimeoutError,
    GTPEngine,
    GTPEngineError,
    GTPError,
    gnugo,
)

__all__ = ["EngineDiedError", "EngineTimeoutError", "GTPEngine", "GTPEngineError",
           "GTPError", "gnugo"]
