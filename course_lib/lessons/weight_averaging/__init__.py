"""Notebook 11, weight averaging: the running mean (Polyak–Ruppert, SWA) and the EMA of the
iterates, in three parts:

* ``experiments``: ``averaged_sgd`` (SGD on the noisy regression with its averages, many seeds at
  once) and ``polyak_rate``; ``train_swa`` (SWA, an EMA and a cosine schedule on a small network);
  ``noisy_bowl`` and ``bowl_noise`` (the averages on a 2-D bowl with noisy gradients);
* ``explorer``: ``AveragingExplorer``;
* ``exercises``: ``check_running_mean``, ``check_ema_update``, ``check_corrected_ema`` and the
  choice ``check_ema_decay`` (a decay that beats the last iterate within a budget, at lr 0.05).

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import weight_averaging as lesson
    problem = lesson.noisy_regression()
    runs = lesson.averaged_sgd(problem, lr=0.2, steps=5000, swa_start=500, ema_decays=(0.99,))
    runs.mean("SWA")[-1], lesson.polyak_rate(problem, 4500)
"""

from course_lib.lab.display import verdict  # noqa: F401  (the notebook uses lesson.verdict)
from course_lib.lab.regression import noisy_regression  # noqa: F401
from course_lib.lessons.weight_averaging.experiments import (  # noqa: F401
    AveragedRuns, averaged_sgd, BOWL, bowl_noise, BowlPaths, error_rate, LAYERS, moons, noisy_bowl, polyak_rate,
    SWARuns, train_swa,
)
from course_lib.lessons.weight_averaging.explorer import AveragingExplorer  # noqa: F401
from course_lib.lessons.weight_averaging.exercises import (  # noqa: F401
    check_corrected_ema, check_ema_decay, check_ema_update, check_running_mean, CORRECTED_EMA_EXERCISE,
    DECAY_QUESTION, EMA_UPDATE_EXERCISE, RUNNING_MEAN_EXERCISE,
)
