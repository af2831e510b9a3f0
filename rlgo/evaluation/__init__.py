"""Rating players: matches (arena), the match database, Bradley-Terry Elo, player specs
(typed on the command line or read from files), the ladder a training run plays, and
the fixed scale: reference tables of calibrated anchors and adaptive match-making against
them (:mod:`.reference`, ``rlgo ladder``)."""

from rlgo.evaluation.arena import MatchSummary, play_match
from rlgo.evaluation.elo import expected_score, fit_elo
from rlgo.evaluation.evaluator import EvalConfig, Evaluator
from rlgo.evaluation.ladder import Entrant, run_ladder
from rlgo.evaluation.matchdb import GameRecord, MatchDB, MatchDBError
from rlgo.evaluation.players import PlayerSpecError, make_player

__all__ = ["Entrant", "EvalConfig", "Evaluator", "GameRecord", "MatchDB", "MatchDBError",
           "MatchSummary", "PlayerSpecError", "expected_score", "fit_elo", "make_player",
           "play_match", "run_ladder"]
