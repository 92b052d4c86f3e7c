"""Notebook 10, mixed precision: float16's and bfloat16's range, loss scaling, and the training
loop around them, in one lesson split in three parts:

* ``gradients``: the activation gradients of a small net trained in float32
  (``activation_gradients``), what a loss scale and a dtype keep of them (``survival``), the
  figure of Micikevicius et al. (2018, Figure 3) for that net and ``GradientScaleExplorer``;
* ``exercises``: ``check_unscale_then_clip`` and the question ``check_scale_window`` (predict the
  window of S for a summed loss);
* ``accumulation``: ``check_accumulation_step``, gradient accumulation with a GradScaler.

The loss scale's bookkeeping itself (``update_scale``, ``unscale_``) and what autocast supports on
a device are ``course_lib.lab.precision``, shared with notebook 13::

    from course_lib.lessons import mixed_precision as lesson
    lesson.GradientScaleExplorer(scale=2.0**8, dtype="float16")
    lesson.check_scale_window({"smallest": -4, "largest": 14})
"""

from course_lib.lessons.mixed_precision.accumulation import (
    ACCUMULATION_HINT, ACCUMULATION_MISTAKES, accumulation_step_reference, check_accumulation_step,
)
from course_lib.lessons.mixed_precision.exercises import (
    check_scale_window, check_unscale_then_clip, MAX_LOST, SCALE_WINDOW_QUESTION, SUM_SHIFT, UNSCALE_EXERCISE,
    unscale_then_clip_reference, WINDOW_SUCCESS,
)
from course_lib.lessons.mixed_precision.gradients import (
    activation_gradients, DTYPES, GradientSample, GradientScaleExplorer, limits, Limits, log2_histogram,
    plot_gradient_histogram, survival, survivals, Survival,
)
