"""Output serializers whose fields are built once per class, not once per request.

A ``ModelSerializer`` builds its fields on every instance: it deep-copies the declared
fields and introspects the model for every other one (``get_fields``: field mapping,
kwargs, validators), and a list response builds them again for each nested serializer.
For a 20-row products list that was a tenth of the request's CPU (issue 15).

``OutputModelSerializer`` builds them once per class (the first time it is used) and
gives each instance shallow copies, which DRF then binds to that instance as usual
(``field_name``, ``parent``, ``source_attrs``). Shallow copies are enough for output: a
field's per-instance state is what ``bind`` sets, and what the copies share (choices,
validators, error messages) is only read. A nested serializer field is copied before it
was ever bound or used, so it builds (and caches) its own fields in turn.

``to_representation`` is DRF's, with the readable fields listed once per instance
instead of a generator per row. Model datetimes are written by ``DateTimeOutputField``,
which asks Django for the current time zone once per serializer instance (a request)
instead of once per value (two thread-local look-ups each, 8 % of a 20-row list).

Each class also compiles an output *plan* once (``_output_plan``): for every readable
field whose value is one attribute of the row and whose ``to_representation`` is DRF's
own (plain model columns, annotations, primary-key relations, nested output serializers
on a forward foreign key), the attribute to read and the converter to apply. A row is
then one ``getattr`` and one call per field instead of DRF's per-row, per-field
``get_attribute`` machinery, and a list never builds its per-instance fields at all
(products list: 260 ``get_attribute`` calls and 2,900 field copies less per request).
The plan writes exactly what DRF writes; whenever a row is not the common case (an
attribute missing, a naive datetime, a related row gone, a dict instead of a model),
that row goes through DRF's own path instead. Fields the plan cannot read (methods,
dotted sources, nested lists) always go through DRF's path, field by field.

Only for read-only output: input serializers stay plain DRF serializers (their
validators may keep state).
"""

from __future__ import annotations

import copy
import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.signals import setting_changed
from django.db import models
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import ISO_8601, relations, serializers
from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

_UNSET = object()
_MISSING = object()

# Plan entry kinds: a converted attribute, an aware datetime, a nested plan, DRF's path.
_VALUE, _DATETIME, _NESTED, _DRF = range(4)
# Fields whose DRF ``to_representation`` reads only the field's own settings: the plan
# calls them directly (CharField's and IntegerField's are ``str`` and ``int``).
_PURE_METHODS = {
    serializers.BooleanField.to_representation: None,
    serializers.CharField.to_representation: str,
    serializers.IntegerField.to_representation: int,
    serializers.BigIntegerField.to_representation: None,
    serializers.FloatField.to_representation: None,
    serializers.DecimalField.to_representation: None,
    serializers.ChoiceField.to_representation: None,
    serializers.DateField.to_representation: None,
    serializers.TimeField.to_representation: None,
    serializers.UUIDField.to_representation: None,
    serializers.ReadOnlyField.to_representation: None,
}
_PLANNED: list[type] = []  # classes holding a prototype or a plan (reset with settings)


class _Fallback(Exception):
    """Control flow: this row goes DRF's way."""


class DateTimeOutputField(serializers.DateTimeField):
    """DRF's ``DateTimeField``, with the request's time zone looked up once per field
    instance (each request has its own copies, see ``OutputModelSerializer``)."""

    def default_timezone(self):
        zone = self.__dict__.get("_default_timezone", _UNSET)
        if zone is _UNSET:
            zone = self.__dict__["_default_timezone"] = super().default_timezone()
        return zone


class OutputModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeOutputField,
    }
    _prototype_fields: ClassVar[dict[str, serializers.Field] | None] = None

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        prototype = cls.__dict__.get("_prototype_fields")
        if prototype is None:
            # Built unbound, from the class alone (no request, no instance): the same
            # fields for every instance. A race between threads builds it twice, harmlessly.
            prototype = super().get_fields()
            cls._prototype_fields = prototype
            _PLANNED.append(cls)
        # A nested list serializer shares its child between shallow copies: deep-copied
        # (DRF's own way, from its arguments) like every field of a plain ModelSerializer.
        return {
            name: copy.deepcopy(field)
            if isinstance(field, serializers.ListSerializer)
            else copy.copy(field)
            for name, field in prototype.items()
        }

    def to_representation(self, instance: Any) -> dict[str, Any]:
        values = self.__dict__.get("values_rows")
        if values is not None and type(instance) is dict:  # a row of ListModelMixin's
            return represent_values(values, instance, self._zone())
        plan = type(self).__dict__.get("_output_plan")
        if plan is None:
            plan = _build_plan(type(self))
        if plan and isinstance(instance, models.Model):
            zone = self._zone()
            try:
                return _represent(plan, instance, zone, self)
            except _Fallback:
                pass
        return self._drf_representation(instance)

    def _zone(self) -> Any:
        """DRF's ``DateTimeField.default_timezone``, looked up once per instance."""
        zone = self.__dict__.get("_zone_value", _UNSET)
        if zone is _UNSET:
            zone = self.__dict__["_zone_value"] = (
                timezone.get_current_timezone() if settings.USE_TZ else None
            )
        return zone

    def read_values(self, plan: list[tuple]) -> None:
        """Rows handed to this instance as dicts are ``.values()`` rows of ``plan``
        (``values_plan``), written as the model instances they stand for."""
        self.__dict__["values_rows"] = plan

    def _drf_representation(self, instance: Any) -> dict[str, Any]:
        """DRF's ``Serializer.to_representation``, the readable fields listed once."""
        readable = self.__dict__.get("_readable")
        if readable is None:
            readable = self.__dict__["_readable"] = list(self._readable_fields)
        ret: dict[str, Any] = {}
        for field in readable:
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[field.field_name] = (
                None if check_for_none is None else field.to_representation(attribute)
            )
        return ret


def _represent(plan: list[tuple], instance: Any, zone: Any, serializer: Any) -> dict[str, Any]:
    """One row through a plan. Raises ``_Fallback`` when the row is not the common case
    (the caller then writes the whole row DRF's way). ``serializer`` is the bound
    instance whose fields the ``_DRF`` entries use (``None`` in nested plans, which have
    none)."""
    ret: dict[str, Any] = {}
    for key, kind, attname, convert in plan:
        if kind == _DRF:
            field = serializer.fields[key]
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[key] = None if check is None else field.to_representation(attribute)
            continue
        # Missing (an annotation not made) or a related row gone (RelatedObjectDoesNotExist
        # is an AttributeError too): DRF's defaults and errors decide, on DRF's path.
        value = getattr(instance, attname, _MISSING)
        if value is None:
            ret[key] = None
        elif value is _MISSING:
            raise _Fallback
        elif kind == _VALUE:
            ret[key] = value if convert is None else convert(value)
        elif kind == _DATETIME:
            # DRF: enforce_timezone (aware: astimezone), then ISO 8601 with "Z" for UTC.
            if zone is None or value.__class__ is not datetime.datetime:
                raise _Fallback
            if value.utcoffset() is None:  # naive: make_aware and its checks, DRF's way
                raise _Fallback
            try:
                text = value.astimezone(zone).isoformat()
            except OverflowError:
                raise _Fallback from None
            ret[key] = text[:-6] + "Z" if text.endswith("+00:00") else text
        else:  # _NESTED
            if not isinstance(value, models.Model):
                raise _Fallback
            ret[key] = _represent(convert, value, zone, None)
    return ret


def _build_plan(cls: type[OutputModelSerializer]) -> list[tuple]:
    """The class's plan, from a throw-away instance's bound fields (no request, no
    context is kept). An empty plan means DRF's path for every row."""
    try:
        sample = cls()
        entries = [_entry(field, cls) for field in sample._readable_fields]
    except Exception:  # an unusual serializer (arguments required...): DRF's path, always
        entries = []
    cls._output_plan = entries  # type: ignore[attr-defined]
    _PLANNED.append(cls)
    return entries


def _entry(field: Field, cls: type[OutputModelSerializer]) -> tuple:
    key = field.field_name
    drf = (key, _DRF, None, None)
    if len(field.source_attrs) != 1 or field.source == "*":
        return drf
    name = field.source_attrs[0]
    model: Any = cls.Meta.model
    try:
        model_field = model._meta.get_field(name)
    except FieldDoesNotExist:
        model_field = None
    kind_of: Any = type(field)
    if isinstance(field, OutputModelSerializer):
        nested = type(field).__dict__.get("_output_plan")
        if nested is None:
            nested = _build_plan(type(field))
        forward = model_field is not None and model_field.concrete and model_field.is_relation
        if (
            forward
            and nested
            and all(kind != _DRF for _, kind, _, _ in nested)
            and kind_of.to_representation is OutputModelSerializer.to_representation
            and kind_of.get_attribute is Field.get_attribute
        ):
            return (key, _NESTED, name, nested)
        return drf
    if model_field is not None:
        if not model_field.concrete:
            return drf
        if model_field.is_relation:
            if (
                kind_of.to_representation is relations.PrimaryKeyRelatedField.to_representation
                and kind_of.get_attribute is relations.RelatedField.get_attribute
                and field.pk_field is None  # type: ignore[attr-defined]
                and field.use_pk_only_optimization()  # type: ignore[attr-defined]
                and not model_field.many_to_many
            ):
                return (key, _VALUE, model_field.attname, None)  # DRF's PKOnlyObject.pk
            return drf
        attname = model_field.attname
    elif hasattr(model, name):
        return drf  # a property or method (DRF may call it)
    else:
        # An annotation: read as is; when missing, the row goes DRF's path (its default).
        attname = name
    if kind_of.get_attribute is not Field.get_attribute:
        return drf
    if isinstance(field, serializers.DateTimeField):
        if (
            kind_of.to_representation is serializers.DateTimeField.to_representation
            and kind_of.enforce_timezone is serializers.DateTimeField.enforce_timezone
            and kind_of.default_timezone
            in (serializers.DateTimeField.default_timezone, DateTimeOutputField.default_timezone)
            and "timezone" not in field.__dict__
            and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        ):
            return (key, _DATETIME, attname, None)
        return drf
    method = kind_of.to_representation
    if method not in _PURE_METHODS:
        return drf
    convert = _PURE_METHODS[method] or field.to_representation
    return (key, _VALUE, attname, convert)


@receiver(setting_changed)
def _forget_plans(*, setting: str, **kwargs: Any) -> None:
    """Prototypes and plans hold DRF settings (formats, decimal coercion): rebuilt after
    a settings change (tests)."""
    if setting in ("REST_FRAMEWORK", "USE_TZ", "COERCE_DECIMAL_TO_STRING"):
        for cls in _PLANNED:
            for name in ("_output_plan", "_prototype_fields", "_values_plan"):
                if name in cls.__dict__:
                    delattr(cls, name)
        _PLANNED.clear()


# Lists read as values ------------------------------------------------------------------
# A list whose serializer's plan reads only columns (and nested serializers made of
# columns) needs no model instances at all: ``ListModelMixin`` then fetches the page with
# ``.values()`` (the same SELECT, the same values, converted by the same database
# converters) and the rows are written by a plan over the row's keys. Model
# instantiation (``__init__``, the init signals, the related-object cache) was a tenth
# of a list request's CPU.

_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)


ValuesPlan = tuple[list[str], list[str], list[tuple]]


def values_plan(cls: type) -> ValuesPlan | None:
    """``(columns, annotations, plan)`` to read ``cls``'s output from ``.values(*columns)``
    rows, or None when some field is not a plain column (DRF's path, model instances).
    ``annotations`` must be annotations of the queryset for the plan to apply."""
    if not (isinstance(cls, type) and issubclass(cls, OutputModelSerializer)):
        return None
    cached = cls.__dict__.get("_values_plan", _UNSET)
    if cached is _UNSET:
        try:
            cached = _build_values_plan(cls, prefix="")
        except Exception:  # an unusual serializer: model instances, always
            cached = None
        cls._values_plan = cached  # type: ignore[attr-defined]
        _PLANNED.append(cls)
    return cached


def _build_values_plan(
    cls: type, *, prefix: str
) -> tuple[list[str], list[str], list[tuple]] | None:
    plan = cls.__dict__.get("_output_plan")
    if plan is None:
        plan = _build_plan(cls)  # type: ignore[arg-type]
    if not plan:
        return None
    model: Any = cls.Meta.model  # type: ignore[attr-defined]
    sample = cls()
    fields = {field.field_name: field for field in sample._readable_fields}
    pk_column = prefix + model._meta.pk.attname
    columns: list[str] = [pk_column]
    annotations: list[str] = []
    entries: list[tuple] = []
    for key, kind, attname, convert in plan:
        if kind == _DRF:
            return None
        field = fields[key]
        if kind == _NESTED:
            nested = _build_values_plan(type(field), prefix=f"{prefix}{attname}__")
            if nested is None:
                return None
            nested_columns, nested_annotations, nested_entries = nested
            if nested_annotations:
                return None
            columns.extend(nested_columns)
            # The nested row is absent (a null key) exactly when its primary key is null.
            entries.append((key, _NESTED, nested_columns[0], nested_entries))
            continue
        try:
            model_field = model._meta.get_field(field.source_attrs[0])
        except FieldDoesNotExist:
            if prefix:
                return None
            annotations.append(attname)  # checked against the queryset at list time
        else:
            if model_field.descriptor_class not in _PLAIN_DESCRIPTORS:
                return None  # an attribute that is not the column's value (files...)
        column = prefix + attname
        columns.append(column)
        entries.append((key, kind, column, field if kind == _DATETIME else convert))
    return list(dict.fromkeys(columns)), annotations, entries


def represent_values(plan: list[tuple], row: dict[str, Any], zone: Any) -> dict[str, Any]:
    """One ``.values()`` row through a values plan: what ``to_representation`` writes
    for the model instance of that row."""
    ret: dict[str, Any] = {}
    for key, kind, column, extra in plan:
        value = row[column]
        if value is None:
            ret[key] = None
        elif kind == _VALUE:
            ret[key] = value if extra is None else extra(value)
        elif kind == _NESTED:
            ret[key] = represent_values(extra, row, zone)
        elif (
            zone is not None
            and value.__class__ is datetime.datetime
            and value.utcoffset() is not None
        ):
            try:
                text = value.astimezone(zone).isoformat()
            except OverflowError:
                ret[key] = _drf_datetime(extra, value, zone)
            else:
                ret[key] = text[:-6] + "Z" if text.endswith("+00:00") else text
        else:
            ret[key] = _drf_datetime(extra, value, zone)
    return ret


def _drf_datetime(sample: serializers.DateTimeField, value: Any, zone: Any) -> Any:
    """DRF's own DateTimeField output for ``value`` with the request's time zone (what
    ``default_timezone`` gives the field), off the plan's common case."""
    field = copy.copy(sample)
    field.timezone = zone  # type: ignore[attr-defined]
    return field.to_representation(value)
