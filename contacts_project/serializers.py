"""Shared serializer pieces: unknown fields are rejected (400), never silently dropped."""
from rest_framework import serializers


class StrictFieldsMixin:
    """Reject keys the serializer does not define (or defines read-only)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                readonly = {name for name, field in self.fields.items() if field.read_only}
                raise serializers.ValidationError({
                    key: [serializers.ErrorDetail(
                        "This field is read-only." if key in readonly else "Unknown field.",
                        code="read_only" if key in readonly else "unknown_field")]
                    for key in unknown
                })
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass


def service_data(serializer) -> dict:
    """validated_data with `<fk>_id` sources mapped back to the API's field names."""
    return {key.removesuffix("_id") if key.endswith("_id") else key: value
            for key, value in serializer.validated_data.items()}
