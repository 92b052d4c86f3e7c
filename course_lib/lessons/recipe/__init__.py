"""Notebook 13, putting it together: the modern recipe (AdamW with two parameter groups, warm-up then
cosine, clipping, bfloat16 autocast, an EMA of the weights) on a small transformer that learns to
sort digits, in one lesson split in four parts:

* ``model``: the task (``sorting_batch``) and the transformer (``TinyTransformer``), ``param_groups``;
* ``training``: the schedules, ``Recipe``, ``train`` (one run in plain PyTorch), ``train_seeds``,
  ``lr_range_test``, ``learning_rates`` (a run's rates without training);
* ``explorer``: ``RecipeExplorer``;
* ``exercises``: ``check_warmup_cosine``, ``check_param_groups`` and a prediction
  (``check_first_step``).

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import recipe as lesson
    runs = lesson.train_seeds(lesson.RECIPE)
"""

from course_lib.lessons.recipe.model import (
    Block, CONTEXT, decays, DIGITS, evaluation_set, make_model, param_groups, SEPARATOR, sorted_half_accuracy,
    sorted_half_loss, sorting_batch, TinyTransformer, VOCABULARY,
)
from course_lib.lessons.recipe.training import (
    BATCH_SIZE, EMA_DECAY, evaluate, learning_rates, lr_range_test, make_optimizer, RATIO_STEPS, Recipe, RECIPE,
    Run, Runs,
    SCHEDULES, SEEDS, spread, STEPS, train, train_seeds, warmup_cosine, warmup_cosine_scheduler,
    warmup_stable_decay,
)
from course_lib.lessons.recipe.explorer import RecipeExplorer
from course_lib.lessons.recipe.exercises import (
    check_first_step, check_param_groups, check_warmup_cosine, first_step_ratio, FIRST_STEP_QUESTION,
    split_for_decay_reference, WARMUP_COSINE_EXERCISE, warmup_cosine_reference,
)
