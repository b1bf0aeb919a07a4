"""Execution as graphql-core and Strawberry do it, minus work they repeat for every item
of a list.

A list of thousands of work items (an interface) has the concrete type of each
checked against the schema, the status of each (an enum) looked up member by member,
and each plain field read through Strawberry's layers: once per (interface, type)
pair, one dict lookup per value, and one call per field answer the same.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from operator import attrgetter
from typing import Any

from graphql import GraphQLAbstractType, GraphQLEnumType, GraphQLObjectType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList
from strawberry.schema.schema import Schema, StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField


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


def plain_attributes(schema: Schema) -> None:
    """Have each plain field of the graph (no resolver, no extension) read its attribute
    in one call.

    Strawberry resolves such a field through three calls of its own (a wrapper, the
    field's `get_result`, the configured `getattr`) to the same `getattr(source, name)`;
    a list of thousands of items, eight fields each, makes them by the hundred thousand.
    A field with a resolver, an extension or an error handler keeps Strawberry's."""
    if schema.config.default_resolver is not getattr:
        return
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field in graphql_type.fields.values():
            definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(definition, StrawberryField) and definition.is_basic_field \
                    and getattr(field.resolve, "__name__", "") == "_get_basic_result":
                field.resolve = _attribute(definition.python_name)


def _attribute(name: str) -> Callable[..., Any]:
    get = attrgetter(name)

    def resolve(source: Any, info: Any) -> Any:
        return get(source)

    resolve._is_default = True  # type: ignore[attr-defined]  # as Strawberry marks its own
    return resolve
