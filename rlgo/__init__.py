"""rlgo: how reinforcement-learning algorithms learn Go, measured.

The folders show the layers; a module imports only from its own layer or the ones above
it in this list:

=========================  ===========================================================
:mod:`rlgo.envs`           the game: compiled rules, PettingZoo and Gymnasium envs, SGF
:mod:`rlgo.protocols`      the contract: Player, Learner, Experience, and the optional
                           CreditAssigner
:mod:`rlgo.gtp`            talking to GTP engines (GNU Go), the rules oracle
:mod:`rlgo.learning`       what learners share: network, tree search, augmentation,
                           episode helpers (negamax GAE, n-step), replay buffer, snapshot
                           and checkpoint files, credit helpers
:mod:`rlgo.agents`         learners (one file each) and fixed players
:mod:`rlgo.registry`       agents by name, built-in and third-party
:mod:`rlgo.evaluation`     arena, match database, Elo, player specs, the ladder,
                           reference tables and adaptive match-making (the fixed scale)
:mod:`rlgo.training`       self-play, the training loop, run directories, configs
:mod:`rlgo.study`          studies (runner, league, report, figures) and Optuna
                           searches (``rlgo tune``)
:mod:`rlgo.analysis`       credit-assignment analysis (``rlgo analyze credit``)
:mod:`rlgo.bench`          speed benchmarks against peers
:mod:`rlgo.cli`            the ``rlgo`` command
=========================  ===========================================================
"""

__version__ = "0.2.0"
__all__ = ["__version__"]
