"""Notebook 06, local optima and saddle points: what the Hessian says about a point where the
gradient vanishes, how rare minima are among random symmetric matrices, and how long optimizers
take to leave the saddle of the double well. One lesson in three parts:

* ``experiments``: classification, random symmetric matrices, escape times with and without noise,
  the critical points of a tiny network;
* ``explorer``: ``SaddleExplorer``, a run leaving the saddle;
* ``exercises``: ``check_classify_critical_point``, ``check_escape_prediction`` and the question
  ``check_escape_from_closer``.

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import saddles as lesson

    lesson.classify_critical_point([[-1, 0], [0, 1]])          # 'saddle'
    lesson.share_all_positive(dim=3, samples=100_000, seed=0)  # ≈ 0.025, with its count
    result = runner.run(landscapes.double_well(), runner.named_optimizer("GD", 0.01),
                        start=(1e-6, 1.0), steps=1600)
    lesson.escape_step(result.path)                            # 1334
    lesson.predicted_escape_steps(1e-6, lesson.growth_factor(lr=0.01))   # 1318.8
    lesson.noisy_escape_steps(sigma=0.01, lr=0.01, runs=200)   # from x0 = 0 exactly, with noise
    lesson.tiny_mlp_critical_points()                          # loss and index of critical points
"""

from course_lib.lessons.saddles.experiments import (
    classify_critical_point, ESCAPE_THRESHOLD, escape_step, find_critical_points, growth_factor, KINDS, MLP_HIDDEN,
    mlp_hessian, mlp_loss_and_gradient, negative_fraction, noise_as_start, noisy_escape_steps, predicted_escape_steps,
    random_symmetric_matrices, settle_step, SETTLED_LEVEL, share_all_positive, tiny_mlp_critical_points,
    tiny_mlp_data,
)
from course_lib.lessons.saddles.explorer import SaddleExplorer
from course_lib.lessons.saddles.exercises import (
    check_classify_critical_point, check_escape_from_closer, check_escape_prediction, CLOSER_LR, CLOSER_START_QUESTION,
    CLOSER_TOLERANCE, closer_escape_steps, CRITICAL_POINT_EXERCISE, CRITICAL_POINT_KINDS, ESCAPE_PREDICTION_EXERCISE,
    judge_closer_escape,
)
