"""Schemathesis hooks for the Control Tower fuzzing step (tests/fuzz/run.sh).

Loaded with SCHEMATHESIS_HOOKS=tests/fuzz/hooks.py. Two custom checks, a failure filter, a generation hook and a dictionary writer:

* ``spec_error_codes`` -- SPEC section 6: every GraphQL error carries ``extensions.code``, one of
  the eight contract codes; ``INTERNAL`` (a server bug by definition) and any error without a
  code fail, as does any 5xx.
* ``graphql_response_shape`` -- the ``data`` of every answer to a valid document is checked
  against the document and the published schema: exactly the selected keys (aliases, fragments
  and ``__typename`` included; "field errors null the field, never drop a key"), no null in a
  non-null position, lists where lists are declared, built-in scalars of the right JSON type and
  range, enum values that exist, ``DateTime`` as RFC 3339 UTC. Schemathesis' own
  ``response_schema_conformance`` only looks for "Cannot return null for non-nullable field"
  messages, which this server (async-graphql) never writes.
* ``filter_failure`` -- schemathesis' GraphQL ``not_a_server_error`` calls every error that
  points at a field (has a ``path``) a server error unless it is tagged with Apollo's
  ``BAD_USER_INPUT``. Under SPEC section 6, ``NOT_FOUND``, ``FORBIDDEN``, ``UNAUTHENTICATED``,
  ``RATE_LIMITED``, ``QUERY_TOO_COMPLEX`` and ``SERVICE_UNAVAILABLE`` at a field are answers
  too, so such a "GraphQL server error" is dropped when every one of its errors carries a
  contract code other than ``INTERNAL``. Everything else it reports (5xx, uncoded errors,
  ``INTERNAL``) stays, and ``spec_error_codes`` reports those again on its own.
* ``flatmap_body`` -- generation only: leaves optional arguments out of valid documents.
* ``python hooks.py URL TOKEN EMAIL PASSWORD`` -- writes the fuzz dictionary of the seeded data
  as a schemathesis.toml (run.sh does it).
"""

from __future__ import annotations

import json
import re
from typing import Any

import graphql
import schemathesis
from schemathesis.graphql.checks import GraphQLServerError

SPEC_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "NOT_FOUND",
        "RATE_LIMITED",
        "QUERY_TOO_COMPLEX",
        "SERVICE_UNAVAILABLE",
        "INTERNAL",
    }
)
# Codes that say "the client asked for something it may not have": not a failure.
ANSWER_CODES = SPEC_CODES - {"INTERNAL"}

MAX_REPORTED = 5


def _payload(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _code(error: Any) -> Any:
    if not isinstance(error, dict):
        return None
    extensions = error.get("extensions")
    if not isinstance(extensions, dict):
        return None
    return extensions.get("code")


def _short(error: Any) -> str:
    text = json.dumps(error, ensure_ascii=False)
    return text if len(text) <= 400 else text[:400] + "..."


# --- SPEC section 6: error codes ---------------------------------------------------------------


@schemathesis.check
def spec_error_codes(ctx, response, case):
    """No 5xx; every GraphQL error carries a SPEC section 6 code, and never INTERNAL."""
    status = response.status_code
    if status >= 500:
        raise AssertionError(f"HTTP {status}: a server error (SPEC 9: bad input never gets a 5xx)")
    payload = _payload(response)
    if payload is None:
        if 400 <= status < 500:
            return None  # a plain 4xx refusal is a valid answer to a client error
        raise AssertionError(f"HTTP {status} with a body that is not JSON")
    if not isinstance(payload, dict):
        raise AssertionError(f"HTTP {status}: the response is JSON but not an object")
    errors = payload.get("errors")
    if errors is None:
        return None
    if not isinstance(errors, list) or not errors:
        raise AssertionError(f"HTTP {status}: `errors` is present but not a non-empty list: {_short(errors)}")
    problems = []
    for error in errors:
        code = _code(error)
        if code is None:
            problems.append(f"error without extensions.code: {_short(error)}")
        elif code == "INTERNAL":
            problems.append(f"INTERNAL error (a server failure): {_short(error)}")
        elif code not in SPEC_CODES:
            problems.append(f"extensions.code {code!r} is not a SPEC section 6 code: {_short(error)}")
    if problems:
        more = f"\n(+{len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise AssertionError(f"HTTP {status}:\n" + "\n".join(problems[:MAX_REPORTED]) + more)
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep a GraphQL "server error" only when some error is uncoded, INTERNAL or off-contract."""
    if isinstance(failure, GraphQLServerError):
        codes = [_code(error) for error in failure.errors]
        if codes and all(code in ANSWER_CODES for code in codes):
            return False
    return True


# --- generation: optional arguments left out -------------------------------------------------
# hypothesis-graphql fills in nearly every optional argument, and this API refuses many
# combinations of them before any resolver runs (BAD_USER_INPUT): a connection given both
# `first` and `last`, `workspace(id:, slug:)` with both, a random cursor. Without help almost no
# positive query of a connection ever reaches the database. So for a valid document (positive
# mode), hypothesis decides for each optional argument and each nullable input-object field
# whether it stays (shrinking towards leaving them all out). Invalid documents (negative mode)
# are left alone, so that a deliberately broken argument is never the one removed.


def _optional_nodes(schema: graphql.GraphQLSchema, document: graphql.DocumentNode) -> list:
    """Arguments and input-object fields that may be left out, in document order."""
    type_info = graphql.TypeInfo(schema)
    found: list = []

    class Collect(graphql.language.Visitor):
        def enter_argument(self, node, *_):
            argument = type_info.get_argument()
            if argument is not None and not (
                graphql.is_non_null_type(argument.type) and argument.default_value is graphql.Undefined
            ):
                found.append(node)

        def enter_object_field(self, node, *_):
            parent = graphql.get_named_type(type_info.get_parent_input_type())
            if graphql.is_input_object_type(parent):
                field = parent.fields.get(node.name.value)
                if field is not None and not (
                    graphql.is_non_null_type(field.type) and field.default_value is graphql.Undefined
                ):
                    found.append(node)

    graphql.language.visit(document, graphql.TypeInfoVisitor(type_info, Collect()))
    return found


def _leave_out(document: graphql.DocumentNode, nodes: list, keep: list) -> graphql.DocumentNode:
    dropped = {id(node) for node, kept in zip(nodes, keep) if not kept}

    class Drop(graphql.language.Visitor):
        def enter_argument(self, node, *_):
            return graphql.language.REMOVE if id(node) in dropped else None

        def enter_object_field(self, node, *_):
            return graphql.language.REMOVE if id(node) in dropped else None

    return graphql.language.visit(document, Drop())


@schemathesis.hook
def flatmap_body(context, body):
    from hypothesis import strategies as st

    if not isinstance(body, graphql.DocumentNode) or context.operation is None:
        return st.just(body)
    schema = context.operation.schema.client_schema
    if graphql.validate(schema, body):
        return st.just(body)
    nodes = _optional_nodes(schema, body)
    if not nodes:
        return st.just(body)
    return st.lists(st.booleans(), min_size=len(nodes), max_size=len(nodes)).map(
        lambda keep: _leave_out(body, nodes, keep)
    )


# --- the response against the document and the schema ------------------------------------------

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class _Shape:
    def __init__(self, schema: graphql.GraphQLSchema, document: graphql.DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)
        }
        self.problems: list[str] = []

    def fail(self, path: list, message: str) -> None:
        where = "data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        self.problems.append(f"{where}: {message}")

    # Field collection (GraphQL spec "CollectFields"), with literal @skip/@include.
    def _included(self, node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            for argument in directive.arguments or ():
                if argument.name.value == "if" and isinstance(argument.value, graphql.BooleanValueNode):
                    if (name == "skip") == argument.value.value:
                        return False
        return True

    def _applies(self, condition: Any, object_type: graphql.GraphQLObjectType) -> bool:
        if condition is None:
            return True
        condition_type = self.schema.get_type(condition.name.value)
        if condition_type is None:
            return False
        if condition_type is object_type:
            return True
        if graphql.is_abstract_type(condition_type):
            return self.schema.is_sub_type(condition_type, object_type)
        return False

    def collect(self, object_type, selection_sets, out=None, visited=None):
        out = {} if out is None else out
        visited = set() if visited is None else visited
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, graphql.FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    out.setdefault(key, []).append(selection)
                elif isinstance(selection, graphql.InlineFragmentNode):
                    if self._applies(selection.type_condition, object_type):
                        self.collect(object_type, [selection.selection_set], out, visited)
                elif isinstance(selection, graphql.FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if self._applies(fragment.type_condition, object_type):
                        self.collect(object_type, [fragment.selection_set], out, visited)
        return out

    def value(self, value: Any, type_: Any, nodes: list, path: list) -> None:
        if graphql.is_non_null_type(type_):
            if value is None:
                self.fail(path, f"null in a non-null position ({type_})")
                return
            type_ = type_.of_type
        if value is None:
            return
        if graphql.is_list_type(type_):
            if not isinstance(value, list):
                self.fail(path, f"{type(value).__name__} where a list ({type_}) is declared")
                return
            for index, item in enumerate(value):
                self.value(item, type_.of_type, nodes, path + [index])
            return
        if graphql.is_enum_type(type_):
            if not isinstance(value, str) or value not in type_.values:
                self.fail(path, f"{value!r} is not a value of enum {type_.name}")
            return
        if graphql.is_scalar_type(type_):
            self.scalar(value, type_.name, path)
            return
        # object, interface or union
        if not isinstance(value, dict):
            self.fail(path, f"{type(value).__name__} where an object of type {type_.name} is declared")
            return
        selection_sets = [node.selection_set for node in nodes if node.selection_set is not None]
        if graphql.is_object_type(type_):
            self.object(value, type_, selection_sets, path)
            return
        candidates = list(self.schema.get_possible_types(type_))
        typename = value.get("__typename")
        if isinstance(typename, str):
            candidates = [c for c in candidates if c.name == typename]
            if not candidates:
                self.fail(path, f"__typename {typename!r} is not a possible type of {type_.name}")
                return
        attempts = []
        for candidate in candidates:
            trial = _Shape(self.schema, graphql.DocumentNode(definitions=()))
            trial.fragments = self.fragments
            trial.object(value, candidate, selection_sets, path)
            if not trial.problems:
                return
            attempts.append((candidate.name, trial.problems))
        if len(attempts) == 1:
            self.problems.extend(attempts[0][1])
        else:
            self.fail(
                path,
                f"matches no possible type of {type_.name}: "
                + "; ".join(f"as {name}: {problems[0]}" for name, problems in attempts[:4]),
            )

    def object(self, value: dict, object_type, selection_sets: list, path: list) -> None:
        fields = self.collect(object_type, selection_sets)
        expected, actual = set(fields), set(value)
        if expected != actual:
            missing = sorted(expected - actual)
            extra = sorted(actual - expected)
            message = f"keys differ from the selection on {object_type.name}"
            if missing:
                message += f"; missing {missing}"
            if extra:
                message += f"; unexpected {extra}"
            self.fail(path, message)
        for key, nodes in fields.items():
            if key not in value:
                continue
            name = nodes[0].name.value
            if name == "__typename":
                if value[key] != object_type.name:
                    self.fail(path + [key], f"__typename {value[key]!r}, expected {object_type.name!r}")
                continue
            field = object_type.fields.get(name)
            if field is None:
                self.fail(path + [key], f"no field {name!r} on {object_type.name}")
                continue
            self.value(value[key], field.type, nodes, path + [key])

    def scalar(self, value: Any, name: str, path: list) -> None:
        ok = True
        if name == "Int":
            ok = isinstance(value, int) and not isinstance(value, bool) and _INT_MIN <= value <= _INT_MAX
        elif name == "Float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif name in ("String", "ID"):
            ok = isinstance(value, str)
        elif name == "Boolean":
            ok = isinstance(value, bool)
        elif name == "DateTime":
            ok = isinstance(value, str) and bool(_DATETIME.match(value))
        # JSON and any other custom scalar: any JSON value
        if not ok:
            self.fail(path, f"{json.dumps(value)[:80]} is not a valid {name}")


@schemathesis.check
def graphql_response_shape(ctx, response, case):
    """The `data` of an answer to a valid document matches the document and the schema."""
    if response.status_code >= 500:
        return None  # reported by not_a_server_error / spec_error_codes
    payload = _payload(response)
    if not isinstance(payload, dict):
        return None  # reported by spec_error_codes unless a plain 4xx
    if not isinstance(case.body, str):
        return None
    schema = case.operation.schema.client_schema
    try:
        document = graphql.parse(case.body)
    except graphql.GraphQLError:
        return None
    if graphql.validate(schema, document):
        return None  # an invalid document (negative mode): negative_data_rejection's business
    if response.status_code >= 400:
        # A valid document refused at the HTTP level must say why (GraphQL-over-HTTP: errors, no data)
        if "data" in payload and payload["data"] is not None:
            raise AssertionError(f"HTTP {response.status_code} with non-null data")
        return None
    if "data" not in payload:
        if payload.get("errors"):
            return None  # a request error (e.g. QUERY_TOO_COMPLEX before execution)
        raise AssertionError("response has neither `data` nor `errors`")
    data = payload["data"]
    if data is None:
        if not payload.get("errors"):
            raise AssertionError("`data` is null but there are no `errors`")
        return None
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if len(operations) != 1:
        return None
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    shape = _Shape(schema, document)
    if not isinstance(data, dict):
        raise AssertionError(f"`data` is {type(data).__name__}, not an object")
    shape.object(data, root, [operation.selection_set], [])
    if shape.problems:
        more = f"\n(+{len(shape.problems) - MAX_REPORTED} more)" if len(shape.problems) > MAX_REPORTED else ""
        raise AssertionError(
            "the response breaks the schema:\n" + "\n".join(shape.problems[:MAX_REPORTED]) + more
        )
    return None


# --- fuzz dictionary: real values from the seeded server -----------------------------------
# `python hooks.py URL TOKEN EMAIL PASSWORD > schemathesis.toml` (run.sh does it). Without it,
# nearly every positive query dies on a random id or cursor with BAD_USER_INPUT and never
# reaches a resolver; with it, about half of those arguments get a value that exists.

_HARVEST = """
{
  viewer { id databaseId }
  workspaces(first: 100) { edges { cursor node { id databaseId slug } } }
  tenants(first: 100) { edges { cursor node { id externalId environment
    providerConnections { id } permissions { id } } } }
  operationRuns(first: 60) { edges { cursor node { id type } } }
  auditLogs(first: 60) { edges { cursor node { id action actorId } } }
}
"""


def _toml_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _write_config(url: str, token: str, email: str, password: str) -> str:
    import requests

    answer = requests.post(
        url, json={"query": _HARVEST}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ).json()
    if answer.get("errors") or not answer.get("data"):
        raise SystemExit(f"hooks.py: the harvest query failed: {json.dumps(answer)[:2000]}")
    data = answer["data"]

    def nodes(connection: str) -> list:
        return [edge["node"] for edge in data[connection]["edges"]]

    def cursors(connection: str) -> list:
        return [edge["cursor"] for edge in data[connection]["edges"]]

    workspaces, tenants = nodes("workspaces"), nodes("tenants")
    runs, logs = nodes("operationRuns"), nodes("auditLogs")
    dictionaries: dict[str, list] = {
        "workspace_ids": [w["id"] for w in workspaces],
        "tenant_ids": [t["id"] for t in tenants],
        "run_ids": [r["id"] for r in runs],
        "node_ids": (
            [data["viewer"]["id"]]
            + [w["id"] for w in workspaces]
            + [t["id"] for t in tenants[:10]]
            + [r["id"] for r in runs[:10]]
            + [a["id"] for a in logs[:10]]
            + [c["id"] for t in tenants[:5] for c in t["providerConnections"]]
            + [p["id"] for t in tenants[:3] for p in t["permissions"]]
        ),
        "slugs": [w["slug"] for w in workspaces],
        "external_ids": [t["externalId"] for t in tenants[:20]],
        "environments": sorted({t["environment"] for t in tenants if t.get("environment")}),
        "run_types": sorted({r["type"] for r in runs}),
        "actions": sorted({a["action"] for a in logs}),
        "actor_ids": sorted({a["actorId"] for a in logs if a.get("actorId") is not None})
        + [data["viewer"]["databaseId"]],
        "cursors": sum((cursors(c) for c in ("workspaces", "tenants", "operationRuns", "auditLogs")), [])[::7],
        "page_sizes": [1, 2, 5, 25, 100],
        "limits": [1, 3, 5, 20],
        "minutes": [1, 5, 30, 60],
        "texts": ["checking the nightly failures", "  padded but long enough  ", "ticket INC-4711"],
        "searches": ["con", "a", "north", "%", "_"],
        "emails": [email],
        "passwords": [password],
    }
    bindings = {
        "*.*.id": "node_ids",
        "*.*.ids[*]": "node_ids",
        "Mutation.markRunInvestigated.runId": "run_ids",
        "Query.operationRun.id": "run_ids",
        "*.*.filter.workspaceId": "workspace_ids",
        "*.*.filter.tenantId": "tenant_ids",
        "*.*.filter.types[*]": "run_types",
        "*.*.filter.actions[*]": "actions",
        "*.*.filter.action": "actions",
        "*.*.filter.actorId": "actor_ids",
        "*.*.filter.environment": "environments",
        "*.*.filter.search": "searches",
        "Query.workspace.slug": "slugs",
        "Query.tenant.externalId": "external_ids",
        "*.*.after": "cursors",
        "*.*.before": "cursors",
        "*.*.first": "page_sizes",
        "*.*.last": "page_sizes",
        "*.*.limit": "limits",
        "Mutation.enterBreakGlass.durationMinutes": "minutes",
        "Mutation.enterBreakGlass.reason": "texts",
        "Mutation.markRunInvestigated.note": "texts",
        "Mutation.login.email": "emails",
        "Mutation.login.password": "passwords",
    }
    lines = ["# Written by tests/fuzz/hooks.py from the seeded server; see run.sh.", ""]
    for name, values in dictionaries.items():
        values = [v for v in values if v is not None]
        if values:
            lines.append(f"[dictionaries.{name}]")
            lines.append("values = [" + ", ".join(_toml_value(v) for v in values) + "]")
            lines.append("")
    lines.append("[parameters]")
    for key, name in bindings.items():
        if dictionaries.get(name):
            lines.append(f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}')
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 5:
        raise SystemExit("usage: hooks.py URL TOKEN EMAIL PASSWORD  (writes a schemathesis.toml to stdout)")
    sys.stdout.write(_write_config(*sys.argv[1:]))
