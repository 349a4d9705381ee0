"""Answers that take the same time whatever happened behind them (subscribe: new, pending, confirmed)."""

import time
from functools import wraps

from flask import current_app


def answer_no_sooner_than(setting: str):
    """Hold the view's answer until `setting` seconds have passed since it started.

    The subscribe paths already do the same costly work (the confirmation mail is built on every path); what
    differs is a few database writes for a new address. The floor hides that rest: an observer sees one time.
    """
    def decorate(view):
        @wraps(view)
        def paced(*args, **kwargs):
            start = time.perf_counter()
            try:
                return view(*args, **kwargs)
            finally:
                left = current_app.config[setting] - (time.perf_counter() - start)
                if left > 0:
                    time.sleep(left)
        return paced
    return decorate
