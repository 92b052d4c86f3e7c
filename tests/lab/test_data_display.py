"""course_lib.lab.data (seeded data sets) and course_lib.lab.display (source listings, agreement lines)."""

import inspect

import numpy as np
import pytest

from course_lib import averages, optim
from course_lib.lab import data
from course_lib.lab.display import agreement, show_source, verdict


def test_noisy_series_is_seeded_and_seasonal():
    first, again = data.noisy_series(seed=3), data.noisy_series(seed=3)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, data.noisy_series(seed=4))
    season = data.noisy_series(noise=0.0)
    assert season.shape == (365,)
    assert season.min() == pytest.approx(4.0, abs=1e-3) and season.max() == pytest.approx(20.0, abs=1e-3)
    assert np.std(first - season) == pytest.approx(4.0, rel=0.15)


def test_noisy_series_refuses_an_empty_year():
    with pytest.raises(ValueError, match="n=0"):
        data.noisy_series(n=0)


def test_show_source_renders_the_function_as_a_python_block():
    listing = show_source(averages.ewa)
    markdown = listing._repr_markdown_()
    assert markdown.startswith("```python\ndef ewa(values, beta, bias_correction=False):")
    assert markdown.endswith("```")
    assert repr(listing).startswith("def ewa(")


def test_show_source_joins_several_objects_in_order():
    listing = repr(show_source(averages.effective_window, averages.ewa))
    assert listing.index("def effective_window") < listing.index("def ewa(")


def test_show_source_shows_a_method_without_its_class_indentation():
    listing = repr(show_source(optim.SGD._update))
    assert listing.startswith("def _update(self, param, grad")
    assert "\n    if maximize:" in listing  # the body keeps its own indentation
    assert max(len(line) for line in listing.splitlines()) < max(
        len(line) for line in inspect.getsource(optim.SGD._update).splitlines())


def test_show_source_needs_something_to_show():
    with pytest.raises(ValueError, match="at least one"):
        show_source()


def test_agreement_says_whether_the_largest_difference_is_within_tolerance():
    assert agreement([1.0, 2.0], [1.0, 2.0 + 1e-15], 1e-12) == "largest difference 8.9e-16, ✓ within 1e-12"
    assert agreement([1.0, 2.0], [1.0, 2.5], 1e-12) == "largest difference 5.0e-01, ✗ NOT within 1e-12"


def test_agreement_refuses_different_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        agreement([1, 2], [1, 2, 3], 1e-12)


def test_verdict_names_identical_within_or_off_by():
    a = np.array([1.0, 2.0, 0.0])
    assert verdict(a, a) == "✓ identical"
    assert verdict(a + 1e-13, a, 1e-12) == "✓ within 1e-12"
    assert verdict(a * (1 + 1e-10), a, 1e-12, relative=True) == "✗ off by 1.0e-10"
    assert verdict(a + [0, 0, 1e-9], a, 1e-12, relative=True) == "✗ off by 1.0e-09"
    assert verdict([np.nan], [1.0], 1.0).startswith("✗")
    with pytest.raises(ValueError, match="shapes"):
        verdict([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="tolerance"):
        verdict([1.0], [1.0], -1)
