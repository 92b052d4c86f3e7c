"""Notebook 05, learning-rate decay: why decay helps, shown by mini-batch SGD on a noisy
least-squares problem, in three parts:

* ``experiments``: the seeded regression ``noisy_regression``, ``run_sgd`` (many schedules and
  seeds at once), ``PlateauRates``, ``schedule_lrs`` and ``scheduler_lrs`` (the textbook decays and
  their torch schedulers), the closed forms ``one_cycle``, ``warm_restarts`` and
  ``warmup_stable_decay`` (the schedules practitioners use), ``noise_free_excess``;
* ``explorer``: ``ScheduleExplorer``;
* ``exercises``: ``check_update_lr``, ``check_schedule_lr_decay``, ``check_fixed_interval_lambda``
  and the design task ``check_schedule`` (a schedule for a step budget).

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import decay as lesson
    problem = lesson.noisy_regression()
    lrs = lesson.schedule_lrs("inverse time", lr0=0.2, epochs=60, decay_rate=1.0)
    runs = lesson.run_sgd(problem, np.tile(lrs[:, None], (1, 8)), seed=0)   # 8 runs
    runs.excess_loss            # (61, 8): F(w) − F(w*) after each epoch, the start first
    problem.predicted_floor(0.1)
"""

from course_lib.lab.display import verdict  # noqa: F401  (notebook 05 uses lesson.verdict)
from course_lib.lab.regression import minibatches, noisy_regression, RegressionProblem  # noqa: F401
from course_lib.lessons.decay.experiments import (
    DIVERGENCE_BOUND, noise_free_excess, one_cycle, PlateauRates, run_sgd, schedule_lrs, scheduler_lrs, SCHEDULES,
    SGDRuns, warm_restarts, warmup_stable_decay,
)
from course_lib.lessons.decay.explorer import ScheduleExplorer
from course_lib.lessons.decay.exercises import (
    BUDGET_EPOCHS, BUDGET_SEEDS, BUDGET_TARGET, budget_run, check_fixed_interval_lambda, check_schedule,
    check_schedule_lr_decay, check_update_lr, FIXED_INTERVAL_LAMBDA_EXERCISE, RATE_NOT_FACTOR,
    SCHEDULE_LR_DECAY_EXERCISE, SCHEDULE_QUESTION, UPDATE_LR_EXERCISE,
)
