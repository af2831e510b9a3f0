"""Speed benchmarks printed side by side with peers measured in the same run: ``rlgo bench
env`` (:mod:`.env`: the rules engine against PettingZoo and OpenSpiel), ``rlgo bench
contention`` (:mod:`.contention`: the engine's thread pool on busy cores), ``rlgo bench
mcts`` (:mod:`.mcts`: the tree search against the bare network) and ``rlgo bench train``
(:mod:`.train`: every learner's training throughput against sb3-contrib's MaskablePPO),
with network FLOPs against the machine's peak (:mod:`.flops`)."""
