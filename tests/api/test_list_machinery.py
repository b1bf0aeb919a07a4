"""What a long list goes through answers as the general way does: enum names, reads
shared with a request's other fields, and a release's items in list order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLEnumType, GraphQLObjectType
from strawberry.dataloader import DataLoader
from strawberry.schema.schema_converter import CustomGraphQLEnumType

from api.loaders import load_all
from api.schema import build_schema
from api.schema.execution import HeatshieldExecutionContext, plain_attributes
from api.upstream_loaders import item_order
from connectors.base import WorkItem, WorkStatus


def test_every_enum_of_the_graph_names_its_members_as_strawberry_does() -> None:
    enums = [t for t in build_schema()._schema.type_map.values()
             if isinstance(t, GraphQLEnumType) and not t.name.startswith("__")]
    assert any(t.name == "WorkStatus" for t in enums)
    for enum_type in enums:
        assert isinstance(enum_type, CustomGraphQLEnumType)
        for member in enum_type.wrapped_cls:
            assert enum_type.serialize(member) == \
                CustomGraphQLEnumType.coerce_output_value(enum_type, member)
        # A raw value is Strawberry's to answer, as before.
        first = next(iter(enum_type.values.values()))
        assert enum_type.serialize(first.value) == \
            CustomGraphQLEnumType.coerce_output_value(enum_type, first.value)


def test_an_item_of_no_enum_member_is_refused_as_strawberry_refuses_it() -> None:
    status = build_schema()._schema.type_map["WorkStatus"]
    assert isinstance(status, GraphQLEnumType)
    with pytest.raises(Exception) as ours:
        status.serialize("NOT_A_STATUS")
    with pytest.raises(Exception) as theirs:
        CustomGraphQLEnumType.coerce_output_value(status, "NOT_A_STATUS")
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_a_long_list_is_read_once_and_shared_with_fields_asking_meanwhile() -> None:
    reads: list[list[int]] = []

    async def read(keys: list[int]) -> list[str]:
        reads.append(list(keys))
        await asyncio.sleep(0)
        return [f"value {k}" for k in keys]

    async def run() -> None:
        loader: DataLoader[int, str] = DataLoader(load_fn=read)
        assert await loader.load(1) == "value 1"
        whole = asyncio.ensure_future(load_all(loader, [1, 2, 3, 2]))
        await asyncio.sleep(0)  # the list's read is running
        one = await loader.load(3)  # another field asks for a key of the list
        assert await whole == ["value 1", "value 2", "value 3", "value 2"]
        assert one == "value 3"
        assert await load_all(loader, [3, 1]) == ["value 3", "value 1"]

    asyncio.run(run())
    # Key 1 was held already; 2 and 3 read once, in one read, whoever asked.
    assert reads == [[1], [2, 3]]


def test_a_failed_read_fails_every_field_waiting_for_it() -> None:
    async def read(keys: list[int]) -> list[str]:
        await asyncio.sleep(0)
        raise RuntimeError("the database is gone")

    async def run() -> None:
        loader: DataLoader[int, str] = DataLoader(load_fn=read)
        whole = asyncio.ensure_future(load_all(loader, [1, 2]))
        await asyncio.sleep(0)
        one = asyncio.ensure_future(loader.load(2))
        for waiting in (whole, one):
            with pytest.raises(RuntimeError, match="the database is gone"):
                await waiting

    asyncio.run(run())


def _item(key: str) -> WorkItem:
    return WorkItem(source="tracker", key=key, title=key, url=f"https://t/{key}", kind="issue",
                    status=WorkStatus.TODO, status_label="To Do", assignee=None,
                    updated_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_a_release_lists_its_items_by_key_prefix_then_number() -> None:
    keys = ["PAY-10", "acme/api#10", "PAY-9", "acme/api#9", "OPS-2", "PAY-x"]
    assert [i.key for i in sorted(map(_item, keys), key=item_order)] == \
        ["OPS-2", "PAY-x", "PAY-9", "PAY-10", "acme/api#9", "acme/api#10"]


def test_a_plain_field_reads_its_attribute_and_a_guarded_one_keeps_its_resolver() -> None:
    issue = build_schema()._schema.type_map["JiraIssue"]
    assert isinstance(issue, GraphQLObjectType)
    item = _item("PAY-1")
    assert issue.fields["statusLabel"].resolve is not None
    assert issue.fields["statusLabel"].resolve(item, None) == "To Do"
    assert issue.fields["updatedAt"].resolve(item, None) == item.updated_at
    # Fields with a resolver of their own (the id, the source) go through Strawberry.
    for name in ("id", "source", "fixVersions"):
        assert getattr(issue.fields[name].resolve, "__name__", "") != "resolve"


@strawberry.enum
class _Shade(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class _Thing:
    name: str
    note: str | None
    shade: _Shade
    size: int


def _thing(name: Any, note: Any, shade: Any, size: Any) -> _Thing:
    return _Thing(name=name, note=note, shade=shade, size=size)


def _things(*things: Any) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def things(self) -> list[_Thing | None]:
            return list(things)

    return strawberry.Schema(query=Query)


def _answers(things: list[Any]) -> tuple[Any, Any, list[tuple[str, str]]]:
    """The query's answer the stock way, our way, and the fields ours ran one by one."""
    query = "{ things { name note shade size } }"
    ran: list[tuple[str, str]] = []

    class Counting(HeatshieldExecutionContext):
        def execute_field(self, parent_type: Any, source: Any, field_details_list: Any,
                          path: Any, position_context: Any) -> Any:
            ran.append((parent_type.name, field_details_list[0].node.name.value))
            return super().execute_field(parent_type, source, field_details_list, path,
                                         position_context)

    return (*_stock_and_ours(lambda: _things(*things), query, Counting), ran)


Answer = tuple[Any, list[Any]]  # the data, and the errors as they are sent


def _stock_and_ours(schema: Callable[[], strawberry.Schema], query: str,
                    context: type[HeatshieldExecutionContext]) -> tuple[Answer, Answer]:
    """The query's answer from stock Strawberry, and from the same schema run our way."""
    stock = schema().execute_sync(query)
    ours_schema = schema()
    ours_schema.execution_context_class = context
    plain_attributes(ours_schema)
    ours = ours_schema.execute_sync(query)
    return ((stock.data, [e.formatted for e in stock.errors or []]),
            (ours.data, [e.formatted for e in ours.errors or []]))


def test_an_object_of_plain_leaves_is_answered_in_one_pass_as_graphql_core_answers_it(
        ) -> None:
    things = [_thing("a", None, _Shade.RED, 1), _thing("b", "n", _Shade.BLUE, 2)]
    stock, ours, ran = _answers(things)
    assert ours == stock
    assert ours[0] == {"things": [
        {"name": "a", "note": None, "shade": "RED", "size": 1},
        {"name": "b", "note": "n", "shade": "BLUE", "size": 2}]}
    # Only the list field went through graphql-core's per-field path.
    assert ran == [("Query", "things")]


@pytest.mark.parametrize("bad", [
    _thing(None, None, _Shade.RED, 1),  # null for a non-null
    _thing("c", None, "GREEN", 1),  # no member of the enum
    _thing("c", None, _Shade.RED, "many"),  # not an Int
    _thing("c", ValueError("boom"), _Shade.RED, 1),  # an error
])
def test_an_object_whose_plain_leaf_is_wrong_gets_graphql_core_errors(bad: _Thing) -> None:
    stock, ours, ran = _answers([_thing("a", None, _Shade.RED, 1), bad])
    assert ours == stock
    assert stock[1], stock  # the case is an error the stock way too
    assert ("Thing", "name") in ran  # the wrong item went the general way


@strawberry.interface
class _Pet:
    name: str


@strawberry.type
class _Cat(_Pet):
    lives: int


@strawberry.type
class _Dog(_Pet):
    shade: _Shade | None


def _pets(*pets: Any) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def pets(self) -> list[_Pet]:
            return list(pets)

    return strawberry.Schema(query=Query, types=[_Cat, _Dog])


def _pet_answers(pets: list[Any]) -> tuple[Any, Any, int]:
    """The answer the stock way, our way, and how many items ours completed one by one."""
    query = "{ pets { name ... on Cat { lives } ... on Dog { shade } } }"
    one_by_one = [0]

    class Counting(HeatshieldExecutionContext):
        def complete_list_item_value(self, *args: Any, **kwargs: Any) -> Any:
            one_by_one[0] += 1
            return super().complete_list_item_value(*args, **kwargs)

    return (*_stock_and_ours(lambda: _pets(*pets), query, Counting), one_by_one[0])


def test_a_list_of_plain_objects_is_answered_in_one_loop_as_graphql_core_answers_it() -> None:
    pets = [_Cat(name="Tom", lives=9), _Dog(name="Rex", shade=_Shade.BLUE),
            _Dog(name="Fido", shade=None)]
    stock, ours, one_by_one = _pet_answers(pets)
    assert ours == stock
    assert ours[0] == {"pets": [{"name": "Tom", "lives": 9}, {"name": "Rex", "shade": "BLUE"},
                                {"name": "Fido", "shade": None}]}
    assert one_by_one == 0


@pytest.mark.parametrize("bad", [
    _Cat(name=None, lives=1),  # type: ignore[arg-type]  # null for a non-null field
    _Dog(name="Rex", shade="GREEN"),  # type: ignore[arg-type]  # no member of the enum
    None,  # a null item of a list of non-null items
    "a string",  # no type of the interface
])
def test_a_list_with_an_item_in_error_is_graphql_core_s_to_complete(bad: Any) -> None:
    stock, ours, one_by_one = _pet_answers([_Cat(name="Tom", lives=9), bad])
    assert ours == stock
    assert stock[1], stock  # an error the stock way too
    assert one_by_one == 2  # the whole list went the general way
