"""The optimizers of ``torch.optim`` and two of its neighbours, rebuilt from small NumPy update functions.

``SGD``, ``RMSprop``, ``Adam``, ``AdamW``, ``Adagrad``, ``Adafactor`` and ``Muon`` take the
arguments, defaults and checks of their ``torch.optim`` namesakes and give the same
numbers; ``Lion`` those of the ``lion-pytorch`` package and ``AdamWScheduleFree`` those of
the ``schedulefree`` package. They work on NumPy arrays that they update in place::

    opt = Adam([w, b], lr=1e-3)
    opt.step([dw, db])        # one gradient per parameter, same shapes
    opt.lr = 0.5 * opt.lr     # hyperparameters are plain attributes

Each optimizer is a thin shell around update functions of one equation each, which the
notebooks show beside the maths: ``core`` holds the shared ones and the ``Optimizer`` base,
``classic`` the optimizers up to AdamW and Adagrad, ``beyond`` the four that go past Adam.
Results agree with the references to rounding: about 1e-15 per step in float64, float32
rounding in float32. The one exception is Muon, whose reference runs its Newton–Schulz
iteration in bfloat16 (see ``newton_schulz``).

``lr`` and ``weight_decay`` of the optimizers that work entry by entry (all but Adafactor
and Muon) may also be arrays that broadcast against every parameter: with shape (R, 1) and
parameters of shape (R, d), one optimizer runs R settings side by side, as R independent
runs along a leading "run" axis. Such arrays are rounded to each parameter's dtype, so a
float32 sweep stays float32.
"""

# Everything public of the three modules, under one name: ``optim.Adam``, ``optim.descend_``.
from course_lib.optim import beyond, classic, core
from course_lib.optim.beyond import *  # noqa: F401,F403
from course_lib.optim.classic import *  # noqa: F401,F403
from course_lib.optim.core import *  # noqa: F401,F403

__all__ = [*classic.__all__, *beyond.__all__, *core.__all__]
