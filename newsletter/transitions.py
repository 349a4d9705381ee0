r"""The one writer of statuses: every change of a status is a conditional UPDATE checked against the table in
states.py, and every new row's first status is one that states.INITIAL allows.

`move` is the conditional UPDATE (`WHERE status IN (the allowed sources)`): of two racing writers one wins, and
it returns how many rows moved. `move_record` moves one loaded record from the status it has. `transition` is
the same statement unexecuted, for the send path's prepared statements (sending/ledger.py), which are built from
it once and run without SQLAlchemy's per-call work. `initial` names the status a row is created with.

`tests/test_transitions.py` fails if a status is written anywhere else; roughly the same by hand (no output):
    grep -rnP '(?<!self)\.status\s*=(?!=)|\bstatus\s*=\s*(bindparam|case|literal|new\b|"|[SIDHMJ]\.|[A-Za-z]+Status\.)|literal\([SIDHMJ]\.' \
        newsletter --include='*.py' | grep -v '^newsletter/transitions.py'
The send path's hot statements (sending/ledger.py HotLedger) stay prepared statements run on the DB-API cursor
for speed, but each is built here by `transition`: the status it writes and the statuses it may overwrite are
the table's, checked once when the statements are built.
"""

from enum import StrEnum

from sqlalchemy import Update, update

from .extensions import db
from .states import INITIAL, TRANSITIONS, check_transition


def transition(model, new: StrEnum, *where, from_=None, **values) -> Update:
    """UPDATE model SET status = new (and `values`) WHERE `where` AND status is an allowed source of `new`;
    `from_` narrows the sources (a source the table does not allow is a bug: ValueError)."""
    kind = type(new)
    allowed = {old for old, targets in TRANSITIONS[kind].items() if new in targets}
    chosen = allowed - {new} if from_ is None else {kind(old) for old in from_}
    if not chosen <= allowed or not chosen:
        raise ValueError(f"states.TRANSITIONS has no {kind.__name__} move from {sorted(chosen - allowed)} to {new}")
    sources = sorted(status.value for status in chosen)
    # One source as `=`: the statement then has no list parameter, and compiles once for the prepared path.
    condition = model.status == sources[0] if len(sources) == 1 else model.status.in_(sources)
    return update(model).where(condition, *where).values(status=new.value, **values)


def move(model, new: StrEnum, *where, from_=None, **values) -> int:
    """Move the rows of `model` matching `where` to `new` by one conditional UPDATE; how many moved."""
    statement = transition(model, new, *where, from_=from_, **values)
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def move_record(record, new: StrEnum, **values) -> bool:
    """Move one loaded record from its status to `new` (Refused if the table forbids it); False if another
    writer changed it first. The record is flushed before and refreshed after."""
    model, old = type(record), record.status
    check_transition(type(new), old, new)
    db.session.flush()
    moved = move(model, new, model.id == record.id, from_=[old], **values)
    db.session.refresh(record)
    return moved == 1


def initial(status: StrEnum) -> str:
    """The value a new row is created with; ValueError unless states.INITIAL allows it for its kind."""
    if status not in INITIAL[type(status)]:
        raise ValueError(f"a new {type(status).__name__} row cannot start as {status}")
    return status.value
