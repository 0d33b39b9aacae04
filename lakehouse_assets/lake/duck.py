"""DuckDB over the lake, read-only: each table a view by its name (native ``delta_scan``).

What a query may do: read the lake's tables, one ``SELECT`` (``WITH``, ``FROM``,
``DESCRIBE``, ``SHOW``, ``SUMMARIZE``, ``PIVOT ... IN (...)``, ``VALUES``) or ``EXPLAIN
[ANALYZE]`` of one, or several of them separated by ``;`` (the last one's rows are the
answer), and read files under the lake's root (``read_parquet``, ``read_text`` there).

What it may not do, and how that is enforced, from the outside in:

* **Statements**: anything but the above is refused before it runs (:class:`QueryRefused`):
  ``COPY``, ``EXPORT``, ``ATTACH``, ``CREATE``, ``INSERT``/``UPDATE``/``DELETE``, ``SET``,
  ``PRAGMA``, ``CALL``, ``INSTALL``/``LOAD``. The lake's root has to stay readable, and
  DuckDB's allow-list does not tell reads from writes, so this is what keeps ``COPY ... TO
  '<lake>/<table>/_delta_log/...'`` from rewriting a table's log.
* **Files and network**: the Delta extension (and, for an ``s3://`` lake, httpfs, which
  defines S3 secrets) is loaded from its ``duckdb-extension-*`` package by file path, with
  extension auto-install and auto-load off; then ``enable_external_access`` is turned off
  with the lake's root as the only ``allowed_directories`` entry, and the configuration is
  locked. ``read_csv('/etc/passwd')``, an ``http(s)://`` URL, ``ATTACH 'x.db'``,
  ``INSTALL httpfs`` (which would download) and ``LOAD`` fail with DuckDB's "Permission
  Error"; ``SET`` cannot undo it.
* **Tables**: a view is created only for the tables the SQL names, each on its own, so a
  table whose log cannot be read breaks only the queries that name it
  (:class:`TableUnavailable`, naming the table), and ``--as-of`` pins only those tables.
* **Time**: :func:`query` stops a statement after ``timeout`` seconds and on Ctrl-C
  (``connection.interrupt()``), raising :class:`QueryStopped`.

:func:`write_catalog` writes the same views into a DuckDB database file that any DuckDB
client (of the same version, with the delta extension loaded) attaches read-only; there
the read-only guarantee is the attach's, not this module's.

:func:`named_query` runs a file of ``sql/`` the same way and returns a polars frame, so
that ``lakehouse report`` shows what ``lakehouse query -f sql/NAME.sql`` answers; its
``through`` cuts every view at a trading day, making the files' "latest day" the latest on
or before it.

DuckDB may still spill intermediate results of a large query to its temporary directory
(``.tmp`` in the working directory), as any DuckDB does; it never writes elsewhere.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl
from deltalake.exceptions import TableNotFoundError

from lakehouse_assets.lake.catalog import PARTITION_COLUMN, TABLES, table
from lakehouse_assets.lake.delta import Lake, sql_literal

PARAMETER = re.compile(r"(?<![\w$])\$([A-Za-z_]\w*)")
SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
"""The named queries, ``sql/NAME.sql``."""
ALL_TABLES = "*"
DEFAULT_TIMEOUT = 300.0
"""Seconds a query may run (``lakehouse query --timeout``; 0 or None: no limit)."""
STOP_GRACE = 10.0
"""Seconds to wait for an interrupted statement to unwind before giving up on it."""

Pin = int | dt.datetime
T = TypeVar("T")


class QueryUsageError(ValueError):
    """A bad argument to a query: a ``$name`` without a value, an ``--as-of`` naming an
    unknown table or a version the table does not have (the CLI's exit status 2)."""


class QueryError(Exception):
    """A query that could not run or finish (the CLI's exit status 1)."""


class QueryRefused(QueryError):
    """A statement that could write (``COPY``, ``ATTACH``, ``CREATE``, ``SET``...): not run."""


class TableUnavailable(QueryError):
    """A table the query names cannot be read (its log is broken, it did not exist at the
    ``--as-of`` time, or it has not been created in this lake)."""


class TableNotCreated(TableUnavailable):
    """A table the query names has not been created in this lake: nothing wrote it yet,
    as opposed to a table that exists and cannot be read."""


class QueryStopped(QueryError):
    """The statement was interrupted: by its timeout or by Ctrl-C."""


class CatalogRefused(QueryUsageError):
    """``lakehouse catalog --out FILE``: FILE exists and is not a catalog written by it."""


def extension_path(name: str) -> Path:
    """The file of a DuckDB extension shipped by the ``duckdb-extension-NAME`` package."""
    package = importlib.import_module(f"duckdb_extension_{name}")
    base = Path(package.__file__ or "").parent / "extensions"
    candidates = sorted(base.glob(f"v{duckdb.__version__}/{name}.duckdb_extension")) or sorted(
        base.glob(f"*/{name}.duckdb_extension")
    )
    if not candidates:
        raise RuntimeError(
            f"no DuckDB {name} extension under {base} (install duckdb-extension-{name}=={duckdb.__version__})"
        )
    return candidates[-1]


def connect(
    lake: Lake, as_of: Mapping[str, Pin] | None = None, *, tables: Iterable[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only in-memory DuckDB with one view per table (partition column hidden).

    ``tables``: the views to create (default: every table created in the lake). ``as_of`` pins
    tables to a past state (time travel): table name, or ``*`` for every table, to a
    version number or a UTC timestamp (the last version committed at or before it).
    The session cannot write files, reach the network, load extensions or change its
    configuration (see the module docstring). Raises :class:`TableUnavailable` when one
    of ``tables`` cannot be read and :class:`QueryUsageError` for a bad pin.

    Examples
    --------
    >>> import tempfile
    >>> lake = Lake(tempfile.mkdtemp())
    >>> _ = lake.ensure("alerts")
    >>> con = connect(lake)
    >>> con.execute("select count(*) from alerts").fetchall()
    [(0,)]
    >>> con.execute("select * from read_csv('/etc/passwd')")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    duckdb.PermissionException: Permission Error: Cannot access file "/etc/passwd" ...
    """
    pins = check_pins(lake, as_of or {})
    con = _session(lake)
    names = [name for name in TABLES if _created(lake, name)] if tables is None else list(tables)
    problems = _views(con, lake, names, pins)
    if problems:
        con.close()
        raise next(iter(problems.values()))
    return con


def query(
    lake: Lake,
    sql: str,
    params: Mapping[str, str] | None = None,
    as_of: Mapping[str, Pin] | None = None,
    *,
    timeout: float | None = None,
) -> tuple[list[str], list[tuple[object, ...]]]:
    """Run read-only ``sql`` with ``$name`` parameters bound; returns (column names, rows).

    Only the parameters the statement mentions are bound, so a file can be run with a
    superset; a parameter it needs but was not given raises :class:`QueryUsageError`
    naming it, as does a bad ``as_of`` (see :func:`connect`). Only the tables the SQL
    names get a view (and a pin). ``timeout``: seconds before the statement is
    interrupted (None or 0: no limit). Raises :class:`QueryRefused` for a statement that
    could write, :class:`TableUnavailable` for a named table that cannot be read,
    :class:`QueryStopped` on timeout or Ctrl-C, ``duckdb.Error`` for bad SQL.

    Examples
    --------
    >>> import tempfile
    >>> lake = Lake(tempfile.mkdtemp())
    >>> _ = lake.ensure("alerts")
    >>> query(lake, "select count(*) as n, $who as who from alerts", {"who": "me", "unused": "x"})
    (['n', 'who'], [(0, 'me')])
    >>> query(lake, "create table t as select 1")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    QueryRefused: only SELECT (and EXPLAIN of a SELECT) may run: CREATE refused ...
    """
    return _run(lake, sql, params, as_of, timeout=timeout, through=None, fetch=_rows)


def named_query(
    lake: Lake, name: str, params: Mapping[str, str] | None = None, *, through: dt.date | None = None
) -> pl.DataFrame:
    """Run ``sql/NAME.sql`` as :func:`query` runs it (``lakehouse query -f``); its rows as a
    polars frame, typed by DuckDB.

    ``through``: each view holds only the rows whose date column (the catalogue's: ``as_of``
    or ``date``) is on or before that trading day, so a file's "latest day" is the latest on
    or before it. Raises as :func:`query` does; :class:`TableNotCreated` when a table the
    file reads is not in the lake yet.

    Examples
    --------
    >>> import tempfile
    >>> lake = Lake(tempfile.mkdtemp())
    >>> _ = lake.ensure("backtest_metrics")
    >>> named_query(lake, "backtest_summary", through=dt.date(2024, 1, 5)).shape
    (0, 17)
    """
    sql = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return _run(lake, sql, params, None, timeout=None, through=through, fetch=lambda result: result.pl())


def _run(
    lake: Lake,
    sql: str,
    params: Mapping[str, str] | None,
    as_of: Mapping[str, Pin] | None,
    *,
    timeout: float | None,
    through: dt.date | None,
    fetch: Callable[[duckdb.DuckDBPyConnection], T],
) -> T:
    """Check ``sql``, bind its parameters, create the views it names and run it (see
    :func:`query`); ``fetch`` turns the executed statement into the answer."""
    _check_statements(sql)
    wanted = dict.fromkeys(PARAMETER.findall(_strip_comments_and_strings(sql)))
    given = dict(params or {})
    missing = [p for p in wanted if p not in given]
    if missing:
        raise QueryUsageError(f"missing --param for ${', $'.join(missing)}")
    deadline = time.monotonic() + timeout if timeout else None
    pins = check_pins(lake, as_of or {})
    con: duckdb.DuckDBPyConnection | None = None
    try:
        con = _session(lake)
        problems = _views(con, lake, named_tables(sql), pins, through)
        running, con = con, None  # _execute closes it
        try:
            bound = {k: given[k] for k in wanted} if wanted else None
            return _execute(running, sql, bound, deadline, timeout, fetch)
        except duckdb.CatalogException as exc:
            missing_table = re.search(r"Table with name (\w+) does not exist", str(exc))
            name = missing_table.group(1).lower() if missing_table else None
            if name in problems:
                raise problems[name] from None
            raise
    except KeyboardInterrupt:
        raise QueryStopped("interrupted (Ctrl-C): the query was stopped") from None
    finally:
        if con is not None:
            con.close()


def named_tables(sql: str) -> list[str]:
    """The lake tables whose names appear as words in ``sql`` (comments aside; quoted
    names and strings count, so ``"OHLCV_Daily"`` and ``query_table('features')`` do).

    >>> named_tables("select * from ohlcv_daily join Features using (symbol) -- alerts")
    ['ohlcv_daily', 'features']
    """
    words = {w.lower() for w in re.findall(r"\w+", _strip_comments(sql))}
    return [name for name in TABLES if name in words]


def check_pins(lake: Lake, as_of: Mapping[str, Pin]) -> dict[str, Pin]:
    """``as_of`` checked against the lake: a named table must be catalogued and exist, a
    version must be one the table has, a timestamp must not precede the table's first
    version. A ``*`` pin (every table) must be a timestamp; it is resolved per table
    when the table is read. Raises :class:`QueryUsageError` saying what exists."""
    pins = dict(as_of)
    for name, pin in pins.items():
        if name == ALL_TABLES:
            if not isinstance(pin, dt.datetime):
                raise QueryUsageError(f"--as-of {pin}: a version needs a table, e.g. ohlcv_daily={pin}")
            continue
        if name not in TABLES:
            raise QueryUsageError(f"--as-of {name}={_said(pin)}: unknown table {name!r}; known: {', '.join(TABLES)}")
        try:
            history = lake.history(name)
        except TableNotFoundError:
            raise QueryUsageError(
                f"--as-of {name}={_said(pin)}: no table {name!r} in the lake {lake.root} (not created yet)"
            ) from None
        except Exception as exc:
            raise TableUnavailable(f"table {name} cannot be read: {first_line(exc)}") from None
        versions = sorted((int(e["version"]), e["timestamp"]) for e in history)  # type: ignore[call-overload]
        (first, created), (last, _) = versions[0], versions[-1]
        if isinstance(pin, dt.datetime):
            if pin < created:  # type: ignore[operator]
                raise QueryUsageError(
                    f"--as-of {name}={_said(pin)}: table {name} did not exist yet "
                    f"(version {first} was committed {_said(created)})"
                )
        elif not first <= pin <= last:
            raise QueryUsageError(
                f"--as-of {name}={pin}: table {name} has versions {first}..{last} (the current one is {last})"
            )
    return pins


def _session(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that may read files under the lake's root only, nothing else."""
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_persistent_secrets": False,
        }
    )
    con.execute(f"LOAD {sql_literal(str(extension_path('delta')))}")
    if lake.root.startswith("s3://"):
        con.execute(f"LOAD {sql_literal(str(extension_path('httpfs')))}")
        _s3_secret(con, lake.storage_options)
    con.execute(f"SET allowed_directories = [{sql_literal(lake.root + '/')}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _views(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    names: Iterable[str],
    pins: Mapping[str, Pin],
    through: dt.date | None = None,
) -> dict[str, TableUnavailable]:
    """A view per table of ``names``, each on its own, holding the rows dated on or before
    ``through`` (all: None); returns table -> why it has none."""
    problems: dict[str, TableUnavailable] = {}
    for name in names:
        pin = pins.get(name, pins.get(ALL_TABLES))
        try:
            version = lake.version_at(name, pin) if isinstance(pin, dt.datetime) else pin
        except TableNotFoundError:
            problems[name] = _not_created(lake, name)
            continue
        except Exception as exc:
            problems[name] = TableUnavailable(f"table {name} cannot be read: {first_line(exc)}")
            continue
        if isinstance(pin, dt.datetime) and version is None:
            problems[name] = TableUnavailable(f"table {name} does not exist as of {_said(pin)} (it was created later)")
            continue
        spec = table(name)
        at = f", version => {int(version)}" if version is not None else ""
        hidden = f" EXCLUDE ({PARTITION_COLUMN})" if spec.partitioned else ""
        cut = f" WHERE {spec.date_column} <= DATE {sql_literal(through)}" if through is not None else ""
        try:
            con.execute(
                f"CREATE VIEW {name} AS SELECT *{hidden} FROM delta_scan({sql_literal(lake.uri(name))}{at}){cut}"
            )
        except duckdb.Error as exc:
            problems[name] = _why_unreadable(lake, name, exc)
    return problems


def _created(lake: Lake, name: str) -> bool:
    """False only for a table that does not exist; a broken one counts (it is reported)."""
    try:
        return lake.exists(name)
    except Exception:
        return True


def _why_unreadable(lake: Lake, name: str, exc: Exception) -> TableUnavailable:
    try:
        if not lake.exists(name):
            return _not_created(lake, name)
    except Exception as opened:  # the log itself is broken: delta-rs says how
        return TableUnavailable(f"table {name} cannot be read: {first_line(opened)}")
    return TableUnavailable(f"table {name} cannot be read: {first_line(exc)}")


def _not_created(lake: Lake, name: str) -> TableNotCreated:
    return TableNotCreated(
        f"table {name} does not exist in the lake {lake.root} (not created yet: see lakehouse tables)"
    )


def _rows(result: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple[object, ...]]]:
    return [d[0] for d in result.description or []], result.fetchall()


def _execute(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, str] | None,
    deadline: float | None,
    timeout: float | None,
    fetch: Callable[[duckdb.DuckDBPyConnection], T],
) -> T:
    """Run and fetch in a worker thread, so that this thread stays free to interrupt the
    statement at the deadline or on Ctrl-C (DuckDB checks for an interrupt between vectors)."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = fetch(con.execute(sql, params))
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="lakehouse-query", daemon=True)
    worker.start()
    try:
        finished = done.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        _stop(con, done)
        raise
    if not finished:
        _stop(con, done)
        raise QueryStopped(f"stopped after {timeout:g} s (--timeout SECONDS; 0 for no limit)")
    con.close()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _stop(con: duckdb.DuckDBPyConnection, done: threading.Event) -> None:
    """Interrupt the running statement and close the connection once it has unwound (if it
    does not within ``STOP_GRACE``, the worker thread keeps it until the process ends).

    The interrupt is repeated until the worker is done: one sent before the worker's
    statement has begun (a Ctrl-C just after the views were made) is lost when DuckDB
    starts the statement, which then ran on, and the process hung at exit on it."""
    deadline = time.monotonic() + STOP_GRACE
    while True:
        con.interrupt()
        if done.wait(0.05):
            con.close()
            return
        if time.monotonic() >= deadline:
            return


def _check_statements(sql: str) -> None:
    """Refuse every statement but SELECT and EXPLAIN [ANALYZE] of a SELECT (EXPLAIN ANALYZE
    runs its statement). Parse errors are left to DuckDB's own message."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return  # DuckDB says what is wrong when it runs
    for statement in statements:
        kind = statement.type
        if kind == duckdb.StatementType.SELECT:
            continue
        if kind == duckdb.StatementType.EXPLAIN and _explained_is_select(statement.query):
            continue
        name = kind.name if kind != duckdb.StatementType.LOAD else "INSTALL/LOAD"
        hint = ""
        if kind == duckdb.StatementType.CREATE and re.search(r"\bpivot\b", statement.query or sql, flags=re.I):
            name, hint = "PIVOT without IN (...)", "; list the values: PIVOT t ON column IN ('a', 'b') USING ..."
        raise QueryRefused(
            f"only SELECT (and EXPLAIN of a SELECT) may run: {name} refused (the query surface is read-only){hint}"
        )


def _explained_is_select(text: str) -> bool:
    rest = re.sub(r"^\s*explain\s+(analy[sz]e\s+)?", "", _strip_comments(text), flags=re.I)
    try:
        inner = duckdb.extract_statements(rest)
    except duckdb.Error:
        return False
    return bool(inner) and all(s.type == duckdb.StatementType.SELECT for s in inner)


def _said(value: Pin | object) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def first_line(exc: BaseException) -> str:
    """The message without delta-rs's Rust backtrace (printed when RUST_BACKTRACE is set)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", " ", sql)
    return re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)


def _strip_comments_and_strings(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", _strip_comments(sql))


def _s3_secret(con: duckdb.DuckDBPyConnection, options: Mapping[str, str]) -> None:
    """Credentials and endpoint for ``delta_scan`` on s3:// from the lake's storage options."""
    fields = {"TYPE": "s3"}
    if key := options.get("aws_access_key_id"):
        fields["KEY_ID"] = key
    if secret := options.get("aws_secret_access_key"):
        fields["SECRET"] = secret
    if region := options.get("aws_region"):
        fields["REGION"] = region
    if endpoint := options.get("aws_endpoint_url"):
        host = re.sub(r"^https?://", "", endpoint)
        fields.update(ENDPOINT=host, URL_STYLE="path", USE_SSL=str(endpoint.startswith("https")).lower())
    body = ", ".join(f"{k} {v if k in ('TYPE', 'USE_SSL') else sql_literal(v)}" for k, v in fields.items())
    con.execute(f"CREATE OR REPLACE SECRET lake_s3 ({body})")


CATALOG_MARK = "lakehouse_catalog"
"""The table of a catalog file saying what wrote it: the lake, when, with which DuckDB."""


def write_catalog(lake: Lake, out: Path, *, force: bool = False) -> list[str]:
    """Write ``out``: a DuckDB database of one view per table created in the lake (as
    :func:`connect` makes them, over ``delta_scan`` of the table's absolute URI, so they read
    its current version) and one per file of ``sql/`` that is a single ``SELECT`` without
    ``$`` parameters and reads only those tables; returns the views' names.

    The file holds view definitions only, no rows and no credentials: a reader needs the
    delta extension loaded (and, for an ``s3://`` lake, httpfs and an S3 secret of its
    own). It is written whole to a temporary file beside ``out`` and renamed over it, so a
    reader never sees half a catalog. An existing ``out`` that is not a catalog written
    here is refused (:class:`CatalogRefused`) unless ``force``; a table that cannot be read
    raises :class:`TableUnavailable`.

    Examples
    --------
    >>> import tempfile
    >>> lake = Lake(tempfile.mkdtemp())
    >>> _ = lake.ensure("alerts")
    >>> out = Path(tempfile.mkdtemp()) / "lake.duckdb"
    >>> write_catalog(lake, out)
    ['alerts']
    >>> con = duckdb.connect()
    >>> con.execute(f"LOAD {sql_literal(str(extension_path('delta')))}").execute(
    ...     f"ATTACH {sql_literal(str(out))} AS lake (READ_ONLY)").execute(
    ...     "select count(*) from lake.alerts").fetchall()
    [(0,)]
    """
    out = Path(out)
    if out.exists() and not force and not _is_catalog(out):
        raise CatalogRefused(f"{out} exists and is not a catalog written by lakehouse catalog (--force overwrites it)")
    tables = [name for name in TABLES if _created(lake, name)]
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        con = duckdb.connect(str(temp), config={"autoinstall_known_extensions": False})
        try:
            con.execute(f"LOAD {sql_literal(str(extension_path('delta')))}")
            if lake.root.startswith("s3://"):  # to bind the views; the secret is temporary: not in the file
                con.execute(f"LOAD {sql_literal(str(extension_path('httpfs')))}")
                _s3_secret(con, lake.storage_options)
            problems = _views(con, lake, tables, {})
            if problems:
                raise next(iter(problems.values()))
            views = tables + _named_query_views(con, tables)
            con.execute(
                f"CREATE TABLE {CATALOG_MARK} AS SELECT $lake AS lake, now() AS written_at, $version AS duckdb_version",
                {"lake": lake.root, "version": duckdb.__version__},
            )
        finally:
            con.close()
        Path(f"{out}.wal").unlink(missing_ok=True)  # a previous file's log must not be replayed into this one
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    return views


def _named_query_views(con: duckdb.DuckDBPyConnection, tables: list[str]) -> list[str]:
    """A view per ``sql/NAME.sql`` that a view can hold: one SELECT, no parameters, over ``tables``."""
    made = []
    for path in sorted(SQL_DIR.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        statements = duckdb.extract_statements(sql)
        if (
            len(statements) != 1
            or statements[0].type != duckdb.StatementType.SELECT
            or PARAMETER.search(_strip_comments_and_strings(sql))
            or not set(named_tables(sql)) <= set(tables)
        ):
            continue
        con.execute(f"CREATE VIEW {path.stem} AS {statements[0].query}")
        made.append(path.stem)
    return made


def _is_catalog(path: Path) -> bool:
    """Whether ``path`` is a DuckDB database holding :data:`CATALOG_MARK`."""
    try:
        with duckdb.connect(str(path), read_only=True, config={"autoload_known_extensions": False}) as con:
            found = con.execute(
                "select count(*) from information_schema.tables where table_name = $name", {"name": CATALOG_MARK}
            ).fetchone()
    except duckdb.Error:
        return False
    return bool(found and found[0])


def statement_complete(text: str) -> bool:
    """Whether ``text`` ends a statement: its last character outside comments and strings is
    ``;`` (what ``lakehouse sql`` waits for before running what was typed).

    >>> statement_complete("select ';'"), statement_complete("select 1; -- done")
    (False, True)
    """
    return _strip_comments_and_strings(text).rstrip().endswith(";")
