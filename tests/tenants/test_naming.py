"""Subdomain validation and schema-name derivation, property-tested."""

from __future__ import annotations

import re
import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tenants.naming import SCHEMA_NAME_RE, SubdomainProblem, schema_name_for, subdomain_problem

SUBDOMAIN_RE = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")
# The language of SUBDOMAIN_RE, built piece by piece (st.from_regex is several times
# slower to draw): a letter, 1-61 of [a-z0-9-], a letter or digit.
_MIDDLE = string.ascii_lowercase + string.digits + "-"
valid_subdomains = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(string.ascii_lowercase),
        st.text(alphabet=_MIDDLE, min_size=1, max_size=61),
        st.sampled_from(string.ascii_lowercase + string.digits),
    ),
)
# Long subdomains sharing their first 60 characters: their schema names share the
# truncated stem, so only the hash keeps them apart (where a collision could hide).
LONG_STEM = "long-" + "x" * 55
long_siblings = st.builds(
    lambda tails: [f"{LONG_STEM}{tail}" for tail in tails],
    st.lists(
        st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=3),
        min_size=2,
        max_size=20,
        unique=True,
    ),
)


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(valid_subdomains, st.integers(min_value=0, max_value=50))
def test_every_valid_subdomain_yields_a_valid_schema_name(subdomain, attempt):
    name = schema_name_for(subdomain, attempt=attempt)
    assert SCHEMA_NAME_RE.fullmatch(name)
    assert len(name) <= 63
    assert not name.startswith(("pg_", "spare_")) and name != "public"


# 100 derandomized lists (up to 20 names each), half of them of long siblings whose only
# difference the hash must carry; the examples put the two families side by side.
@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(st.one_of(st.lists(valid_subdomains, min_size=2, max_size=20, unique=True), long_siblings))
@example(["a" * 63, "a" * 62 + "b", "a" * 61 + "-b", "a" * 60])
@example(["ab-c", "ab-cd", "abc", "a-bc", "a--bc"])
def test_distinct_subdomains_never_collide(subdomains):
    assert all(SUBDOMAIN_RE.fullmatch(s) for s in subdomains)
    names = [schema_name_for(s) for s in subdomains]
    assert len(set(names)) == len(names)


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(valid_subdomains)
def test_retries_give_fresh_names(subdomain):
    names = {schema_name_for(subdomain, attempt=a) for a in range(5)}
    assert len(names) == 5


def test_long_and_short_families_are_disjoint():
    # A short subdomain shaped like a long one's truncated form still maps elsewhere.
    long = "a" * 63
    short_lookalike = schema_name_for(long)[2:].replace("_", "-")
    assert schema_name_for(long).startswith("h_")
    if SUBDOMAIN_RE.fullmatch(short_lookalike):
        assert schema_name_for(short_lookalike) != schema_name_for(long)


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(st.text(max_size=80))
def test_subdomain_validation_accepts_exactly_the_spec_pattern(text):
    problem = subdomain_problem(text)
    if not SUBDOMAIN_RE.fullmatch(text):
        assert problem == SubdomainProblem.FORMAT
    else:
        assert problem in (None, SubdomainProblem.RESERVED)


def test_reserved_words_are_refused():
    for word in ("www", "admin", "api", "app", "static", "media", "mail", "billing", "public"):
        assert subdomain_problem(word) == SubdomainProblem.RESERVED
    assert subdomain_problem("acme") is None


def test_schema_name_rejects_invalid_subdomains():
    import pytest

    for bad in ("", "a", "-ab", "ab-", "Ab", "a_b", "a" * 64):
        with pytest.raises(ValueError):
            schema_name_for(bad)
