"""GitHub GraphQL's per-call limits, counted as GitHub's documentation counts them.

The figures are the worked examples of GitHub's "Rate limits and node limits for the
GraphQL API" page (docs/upstream-limits.md), written here in the project's own fields.
"""

from __future__ import annotations

from connectors.github.limits import MAX_NODES, query_cost


def test_nested_connections_multiply_their_nodes() -> None:
    # 50 repositories, and 10 issues of each: 50 + 50 x 10.
    cost = query_cost("""query { viewer { repositories(first: 50) { edges { node { name
        issues(first: 10) { totalCount edges { node { title } } } } } } } }""")
    assert cost.nodes == 550


def test_sibling_connections_add_up_at_every_level() -> None:
    # GitHub's second example: 50 + 50x20 + 50x20x10 + 50x20 + 50x20x10 + 10 = 22,060.
    cost = query_cost("""query { viewer {
      repositories(first: 50) { edges { node { name
        pullRequests(first: 20) { edges { node { title
          comments(first: 10) { edges { node { body } } } } } }
        issues(first: 20) { totalCount edges { node { title
          comments(first: 10) { edges { node { body } } } } } } } } }
      followers(first: 10) { edges { node { login } } } } }""")
    assert cost.nodes == 22_060


def test_points_are_the_requests_to_fill_every_connection_over_100() -> None:
    # 1 request for the repositories, 100 for their issues, 100 x 50 for the labels:
    # 5,101 requests, 51 points.
    cost = query_cost("""query { viewer { login repositories(first: 100) { edges { node {
        id issues(first: 50) { edges { node { id labels(first: 60) { edges { node {
        id name } } } } } } } } } } }""")
    assert cost.requests == 5_101
    assert cost.points == 51


def test_a_call_with_no_connection_costs_one_point_and_no_nodes() -> None:
    cost = query_cost('query { repository(owner: "o", name: "r") { name } }')
    assert (cost.nodes, cost.points) == (0, 1)


def test_sizes_given_as_variables_and_fragments_count_too() -> None:
    document = """query($n: Int!) { repository(owner: "o", name: "r") { ...Page } }
        fragment Page on Repository { issues(first: $n) { nodes { title
          assignees(last: 2) { nodes { login } } } } }"""
    assert query_cost(document, {"n": 30}).nodes == 30 + 30 * 2
    assert query_cost(document).nodes == 100 + 100 * 2  # unknown: the largest page


def test_the_limit_is_half_a_million_nodes() -> None:
    assert MAX_NODES == 500_000
