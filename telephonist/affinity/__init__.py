"""Connection affinity: the wire protocol between interface servers and workers
(:mod:`.control`). No I/O and no asyncio here: the processes that speak it import it."""
