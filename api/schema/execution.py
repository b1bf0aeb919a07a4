"""Execution as graphql-core and Strawberry do it, minus work they repeat for every item
of a list.

A list of thousands of work items (an interface) has the concrete type of each
checked against the schema, the status of each (an enum) looked up member by member,
each plain field read through Strawberry's layers, and each of its fields completed by
graphql-core one at a time (a resolve info, a path, a completion), after some eight
calls to reach it (the list item's, the non-null's, the interface's, the object's):
once per (interface, type) pair, one dict lookup per value, one call per field, and
one loop over a list of items whose fields are all plain leaves answer the same.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import Schema, StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField

#: A plain leaf field's answer: (response name, attribute getter, leaf type, non-null).
PlainField = tuple[str, Callable[[Any], Any], GraphQLLeafType, bool]


class HeatshieldExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with each runtime type checked once per operation,
    and an object whose selected fields are all plain leaves answered in one pass."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runtime_types: dict[tuple[GraphQLAbstractType, str], GraphQLObjectType] = {}
        # By the field set's id, with the set itself kept (so its id is not reused).
        self._plain_sets: dict[tuple[GraphQLObjectType, int],
                               tuple[GroupedFieldSet, list[PlainField] | None]] = {}

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, grouped_field_set: GroupedFieldSet,
                       position_context: Any) -> Any:
        """graphql-core's answer, made without its per-field machinery (a resolve info, a
        path and a completion per field) when every selected field reads a plain
        attribute (`plain_attributes`) of a leaf type and no middleware wraps resolvers:
        each item of a list of work items is such an object. Anything that would be an
        error (a null for a non-null field, a value the type refuses, an awaitable)
        goes graphql-core's way from the start, which says what is wrong and where."""
        plain = self._plain_fields(parent_type, grouped_field_set)
        if plain is not None:
            answer = self._plain_answer(plain, source_value)
            if answer is not None:
                return answer
        return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                      position_context)

    def complete_list_value(self, return_type: GraphQLList[Any],
                            field_details_list: FieldDetailsList,
                            info: GraphQLResolveInfo[Any], path: Path, result: Any,
                            position_context: Any) -> Any:
        """A list of objects whose selected fields are all plain leaves answered item by
        item in one loop (`_plain_list`); any other list, or one with an item that is not
        such an object or would be an error, is graphql-core's to complete, whole."""
        if type(result) is list and result and position_context is None:  # no @defer
            answer = self._plain_list(return_type.of_type, field_details_list, info, result)
            if answer is not None:
                return answer
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def _plain_list(self, item_type: Any, field_details_list: FieldDetailsList,
                    info: GraphQLResolveInfo[Any], items: list[Any]) -> list[Any] | None:
        """What graphql-core completes the list to, when each item is an object (its type
        resolved, validated and confirmed by `is_type_of` as graphql-core does) whose
        selected fields are all plain leaves, none of them an error; else None. Pure
        reads only: giving up halfway leaves nothing done."""
        if isinstance(item_type, GraphQLNonNull):
            item_type = item_type.of_type
        if any(details.node.directives for details in field_details_list):
            return None  # @stream, say: graphql-core's
        abstract = item_type if isinstance(item_type, GraphQLInterfaceType |
                                           GraphQLUnionType) else None
        if abstract is None and not isinstance(item_type, GraphQLObjectType):
            return None
        resolve_type = abstract.resolve_type or self.type_resolver if abstract else None
        answers: list[Any] = []
        object_type: GraphQLObjectType = item_type
        try:
            for item in items:
                if item is None:
                    return None
                if abstract is not None and resolve_type is not None:
                    name = resolve_type(item, info, abstract)
                    if type(name) is not str:
                        return None  # awaitable, or not a name: graphql-core says
                    object_type = self.ensure_valid_runtime_type(
                        name, abstract, field_details_list, info, item)
                if object_type.is_type_of and object_type.is_type_of(item, info) is not True:
                    return None
                grouped_field_set, defers, _ = self.collect_subfields(object_type,
                                                                      field_details_list)
                plain = None if defers else self._plain_fields(object_type, grouped_field_set)
                answer = self._plain_answer(plain, item) if plain is not None else None
                if answer is None:
                    return None
                answers.append(answer)
        except Exception:  # graphql-core's way says what is wrong, and where
            return None
        return answers

    def _plain_answer(self, plain: list[PlainField], source: Any) -> dict[str, Any] | None:
        """The object's answer from its plain leaves, or None if any would be an error."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        try:
            for name, get, leaf, non_null in plain:
                value = get(source)
                if value is None:
                    if non_null:
                        return None
                    results[name] = None
                    continue
                if is_awaitable(value) or isinstance(value, Exception):
                    return None
                coerced = leaf.coerce_output_value(value)
                if coerced is None or coerced is Undefined:
                    return None
                results[name] = coerced
        except Exception:  # graphql-core's way says what is wrong
            return None
        return results

    def _plain_fields(self, parent_type: GraphQLObjectType,
                      grouped_field_set: GroupedFieldSet) -> list[PlainField] | None:
        """The set's fields as plain leaves, worked out once per (type, field set); None
        when any is not one."""
        key = (parent_type, id(grouped_field_set))
        known = self._plain_sets.get(key)
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        plain: list[PlainField] | None = []
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            plain = None
        for name, details in grouped_field_set.items():
            if plain is None:
                break
            node = details[0].node
            field = self.schema.get_field(parent_type, node.name.value)
            get = getattr(field.resolve, "plain_get", None) if field is not None else None
            field_type = field.type if field is not None else None
            non_null = isinstance(field_type, GraphQLNonNull)
            if non_null:
                field_type = field_type.of_type  # type: ignore[union-attr]
            if field is None or get is None or field.args or node.arguments \
                    or not isinstance(field_type, GraphQLScalarType | GraphQLEnumType):
                plain = None
            else:
                plain.append((name, get, field_type, non_null))
        self._plain_sets[key] = (grouped_field_set, plain)
        return plain

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
    # For `HeatshieldExecutionContext.execute_fields`: the read itself, without the info.
    resolve.plain_get = get  # type: ignore[attr-defined]
    return resolve
