import numpy as np

from course_lib import clipping
from course_lib.lab.gradient_cases import clip_each_own_norm, gradient_list


def test_gradient_list_is_seeded_and_scaled():
    first, again = gradient_list(7, [(2, 3), (4,)], 2.0), gradient_list(7, [(2, 3), (4,)], 2.0)
    assert [g.shape for g in first] == [(2, 3), (4,)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert np.allclose(gradient_list(7, [(2, 3), (4,)], 1.0)[1] * 2.0, first[1], rtol=0, atol=0)


def test_clip_each_own_norm_clips_every_tensor_alone_and_leaves_the_input():
    grads = [np.array([3.0, 4.0]), np.array([0.3, 0.4])]
    clipped = clip_each_own_norm(grads, 1.0)
    assert np.allclose(clipped[0], [0.6, 0.8], rtol=1e-6) and np.allclose(clipped[1], [0.3, 0.4])
    assert grads[0].tolist() == [3.0, 4.0]
    together = [g.copy() for g in grads]
    clipping.clip_grad_norm_(together, 1.0)
    assert not np.allclose(together[1], clipped[1])   # one global norm shrinks the small tensor too
