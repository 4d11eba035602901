"""An evaluator of the IAM policy semantics the shipped policies use, for one identity-based policy set.

What it implements, after the IAM User Guide's "Policy evaluation logic" and "Condition operators":

* a request is denied by an explicit Deny, else allowed by an Allow, else denied implicitly; a request that names
  several resources is allowed only when every resource is (each with its own context: tags and tenancy differ);
* ``Action`` matches case-insensitively, ``Resource`` case-sensitively, both with ``*`` and ``?`` wildcards;
* every condition operator of a statement, and every key within one, must hold (AND); the values listed for one key
  are alternatives (OR); condition key names are case-insensitive;
* operators: ``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``, ``StringNotEqualsIgnoreCase``,
  ``StringLike``, ``StringNotLike``, ``Bool``, ``NumericEquals``, ``NumericLessThanEquals``, ``Null``, each
  (except ``Null``) with ``...IfExists``, and the set qualifiers ``ForAnyValue:`` and ``ForAllValues:``;
* a key missing from the request: ``IfExists`` holds; a negated operator (``...Not...``) holds; any other operator
  fails; ``ForAllValues`` holds (vacuously) and ``ForAnyValue`` fails; ``Null: true`` holds and ``Null: false`` fails.
  A single-valued operator on a multi-valued key (such as ``aws:TagKeys``) is refused: AWS asks for a qualifier.

It evaluates nothing the policies do not use (no NotAction, NotResource, policy variables, principals, SCPs,
permission boundaries or session policies); a policy that uses them is refused rather than misread.
"""

import re

NEGATED = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals")
OPERATORS = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
             "StringNotLike", "Bool", "NumericEquals", "NumericNotEquals", "NumericLessThanEquals", "Null")
STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}


class UnsupportedPolicy(ValueError):
    """The policy uses IAM semantics this evaluator does not implement."""


def _listed(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _wildcard(pattern, value, ignore_case):
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _base_match(operator, actual, expected):
    if operator in ("StringEquals", "StringNotEquals"):
        return actual == expected
    if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return actual.lower() == expected.lower()
    if operator in ("StringLike", "StringNotLike"):
        return _wildcard(expected, actual, ignore_case=False)
    if operator == "Bool":
        return actual.lower() == expected.lower()
    if operator in ("NumericEquals", "NumericNotEquals"):
        return float(actual) == float(expected)
    if operator == "NumericLessThanEquals":
        return float(actual) <= float(expected)
    raise UnsupportedPolicy("condition operator %s" % operator)


def _value_matches(operator, actual, expected_values):
    hit = any(_base_match(operator, str(actual), str(expected)) for expected in expected_values)
    return not hit if operator in NEGATED else hit


def condition_holds(qualified_operator, key, expected, context):
    """Whether one key of one condition operator holds for the request context (a dict, keys in any case)."""
    qualifier, _sep, operator = qualified_operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[:-len("IfExists")]
    if operator not in OPERATORS or qualifier not in ("", "ForAnyValue", "ForAllValues") or (if_exists and operator == "Null"):
        raise UnsupportedPolicy("condition operator %s" % qualified_operator)
    lowered = dict((name.lower(), value) for name, value in context.items())
    present = key.lower() in lowered and lowered[key.lower()] not in (None, [])
    expected_values = [str(value).lower() if isinstance(value, bool) else value for value in _listed(expected)]
    if operator == "Null":
        (wanted,) = expected_values
        return present == (str(wanted).lower() == "false")
    if not present:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or operator in NEGATED
    actual = lowered[key.lower()]
    if qualifier:
        values = _listed(actual)
        matches = [_value_matches(operator, value, expected_values) for value in values]
        return all(matches) if qualifier == "ForAllValues" else any(matches)
    if isinstance(actual, (list, tuple, set)):
        raise UnsupportedPolicy("%s on the multi-valued key %s needs ForAnyValue or ForAllValues" % (operator, key))
    return _value_matches(operator, actual, expected_values)


def statement_applies(statement, action, resource, context):
    unknown = set(statement) - STATEMENT_KEYS
    if unknown:
        raise UnsupportedPolicy("statement elements %s" % sorted(unknown))
    if not any(_wildcard(pattern, action, ignore_case=True) for pattern in _listed(statement["Action"])):
        return False
    if not any(_wildcard(pattern, resource, ignore_case=False) for pattern in _listed(statement["Resource"])):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if "${" in key or any("${" in str(value) for value in _listed(expected)):
                raise UnsupportedPolicy("policy variables")
            if not condition_holds(operator, key, expected, context):
                return False
    return True


def decide(policies, action, resource, context):
    """``"Allow"``, ``"ExplicitDeny"`` or ``"ImplicitDeny"`` for one action on one resource."""
    allowed = False
    for policy in policies:
        for statement in policy["Statement"]:
            if statement_applies(statement, action, resource, context):
                if statement["Effect"] == "Deny":
                    return "ExplicitDeny"
                allowed = allowed or statement["Effect"] == "Allow"
    return "Allow" if allowed else "ImplicitDeny"


def authorized(policies, request):
    """Whether a request (``{"action", "resources": [(arn, context)]}``) is allowed on every resource it names."""
    return all(decide(policies, request["action"], arn, context) == "Allow" for arn, context in request["resources"])
