"""Speed benchmarks printed side by side with peers measured in the same run:
``rlgo bench env`` (:mod:`.env`) and ``rlgo bench mcts`` (:mod:`.mcts`)."""
