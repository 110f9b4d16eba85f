from _assert import raises


def test_raises_helper_catches():
    e = raises(ValueError, int, "x")
    assert isinstance(e, ValueError)


def test_raises_helper_fails_when_nothing_raised():
    raises(AssertionError, raises, ValueError, int, "1")
