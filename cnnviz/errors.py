"""The project's one error type for problems a user can fix.

Everything the CLI and the app show to a person as "this went wrong, do this" is a
CnnvizError; anything else escaping is a bug in cnnviz.
"""


class CnnvizError(Exception):
    """A user-facing problem: the message is one sentence saying what is wrong and what to do."""
