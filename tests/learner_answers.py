"""Answers written as a learner would write them (loops, lists, Python floats), and the helper that
reads a checker's verdict on a wrong one; shared by the checking machinery's tests and the lessons'."""



def ewa_loop(values, beta, start=0.0, new_weight=None):
    new_weight = 1 - beta if new_weight is None else new_weight
    v, averages = start, []
    for theta in values:
        v = (1 - new_weight) * v + new_weight * theta
        averages.append(v)
    return averages


def bias_corrected_loop(v, beta, first_t=1):
    return [v_t / (1 - beta ** t) for t, v_t in enumerate(v, start=first_t)]


def failure(checker, answer):
    result = checker(answer)
    assert not result.passed and not result
    assert str(result).startswith("Not yet:")
    return result.message


def passes(checker, answer):
    """Assert that ``checker`` accepts ``answer``, and says so."""
    result = checker(answer)
    assert result.passed and result, result.message
    assert str(result).startswith("Correct!")
