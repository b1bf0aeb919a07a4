"""Execution as graphql-core does it, minus checks it repeats for every item of a list.

A list of thousands of work items (an interface) has the concrete type of each
checked against the schema, and the status of each (an enum) looked up member by
member: once per (interface, type) pair, and one dict lookup per value, answer the
same as graphql-core and Strawberry do for each.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from graphql import GraphQLAbstractType, GraphQLEnumType, GraphQLObjectType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType


class HeatshieldExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with each runtime type checked once per operation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runtime_types: dict[tuple[GraphQLAbstractType, str], GraphQLObjectType] = {}

    def ensure_valid_runtime_type(self, runtime_type_name: Any,
                                  return_type: GraphQLAbstractType,
                                  field_details_list: FieldDetailsList,
                                  info: GraphQLResolveInfo[Any], result: Any) -> GraphQLObjectType:
        """graphql-core's checks (the name is a type of the schema, an object type, a
        possible type of `return_type`), made for the first item of each type; only a
        valid answer is kept, so a wrong one raises graphql-core's error every time."""
        if type(runtime_type_name) is not str:
            return super().ensure_valid_runtime_type(
                runtime_type_name, return_type, field_details_list, info, result)
        known = self._runtime_types.get((return_type, runtime_type_name))
        if known is None:
            known = self._runtime_types[(return_type, runtime_type_name)] = \
                super().ensure_valid_runtime_type(runtime_type_name, return_type,
                                                  field_details_list, info, result)
        return known


def quick_enum_output(enum_type: GraphQLEnumType) -> None:
    """Have a Strawberry enum answer a member's name by one dict lookup.

    Strawberry's `CustomGraphQLEnumType` compares a member with each of the enum's
    values in turn; a member's name is the same for every value it is asked for, so it
    is found once. Anything but a member of the enum goes to Strawberry as before."""
    if not isinstance(enum_type, CustomGraphQLEnumType):
        return
    members = enum_type.wrapped_cls
    slow: Callable[[Any], str] = enum_type.coerce_output_value
    # By the member's own name: a str's hash is kept, an Enum member's is computed
    # in Python at each lookup.
    names: dict[str, str] = {}
    member: Any
    for member in members:
        with suppress(ValueError):  # a member the graph leaves out: Strawberry says so
            names[member._name_] = slow(member)

    def coerce_output_value(output_value: Any) -> str:
        if type(output_value) is members and output_value._name_ in names:
            return names[output_value._name_]
        return slow(output_value)

    enum_type.coerce_output_value = coerce_output_value  # type: ignore[method-assign]
    enum_type.serialize = coerce_output_value  # type: ignore[method-assign]
