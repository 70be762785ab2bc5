"""Error-message checks that pin the facts a message must give, not its wording."""

import contextlib

import pytest


@contextlib.contextmanager
def raises_mentioning(*facts, error=ValueError):
    """Expects `error` whose message contains each of `facts`: the argument it names (as the message writes it,
    e.g. "`units`") and what is allowed or expected (values, an interval, a shape); the rest may be reworded.

    Keras appends "Arguments received by <Layer>.call(): ..." to errors raised in `call`, listing every argument
    and its shape: only the text before it is searched, so a fact cannot be found in that list by accident.
    """
    with pytest.raises(error) as info:
        yield info
    message = str(info.value).split("Arguments received by ")[0]
    missing = [fact for fact in facts if fact not in message]
    assert not missing, f"the message lacks {missing}: {message!r}"
