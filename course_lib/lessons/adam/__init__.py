"""Notebook 04, Adam: its step in the forms that circulate, the online counterexample of Reddi,
Kale & Kumar (2018) where it fails, the explorer of that failure, and the exercises, in three parts:

* ``experiments``: ``adam_step`` and its variants, ``online_adam`` and ``AdamAndAMSGrad`` (the
  counterexample computed for all steps at once);
* ``explorer``: ``AdamFailureExplorer``;
* ``exercises``: ``check_adam_update``, ``check_first_steps``, ``check_adam_state_bytes``,
  ``check_efficient_eps``.

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import adam as lesson
    w, m, v = lesson.adam_step(w, m, v, grad, t, lr=1e-3)         # t counts from 1
    x = lesson.online_adam(lesson.reddi_gradients(500_000), 0.01, beta2=np.array([0.99, 0.999]))
    lesson.AdamFailureExplorer(beta2=0.99)
    lesson.check_adam_update(my_adam_update)

The optimizer itself is part of the mirror (``course_lib.optim.Adam``).
"""

from course_lib.lessons.adam.experiments import (
    adam_moments, adam_moves, adam_step, adam_step_efficient, adam_step_eps_inside_root, adam_step_uncorrected,
    AdamAndAMSGrad, AdamRuns, efficient_eps, ewa_over_time, inverse_sqrt_lr, online_adam, online_sgd,
    projected_cumsum, reddi_gradients, reddi_stochastic_gradients, tail_mean,
)
from course_lib.lessons.adam.explorer import AdamFailureExplorer
from course_lib.lessons.adam.exercises import (
    ADAM_STATE_EXERCISE, adam_state_bytes_reference, ADAM_UPDATE_EXERCISE, adam_update_reference,
    check_adam_state_bytes, check_adam_update, check_efficient_eps, check_first_steps, EFFICIENT_EPS_EXERCISE,
    FIRST_STEP_SETTING, first_steps, FIRST_STEPS_QUESTION,
)
